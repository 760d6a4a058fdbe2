"""Development tooling, not runtime code: the embedded Elasticsearch node
launcher, the demo, the sample dataset and the local mail sink."""
