"""Foundation: settings, the Mention record, the brands config, the query
language, time and errors. Imports no other package of the project."""
