package io.brandpulse.esnode;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.charfilter.HTMLStripCharFilter;
import org.apache.lucene.analysis.cjk.CJKBigramFilter;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.classic.ClassicFilter;
import org.apache.lucene.analysis.classic.ClassicTokenizer;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.core.FlattenGraphFilter;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.core.LetterTokenizer;
import org.apache.lucene.analysis.core.UpperCaseFilter;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.de.GermanNormalizationFilter;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.es.SpanishAnalyzer;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.it.ItalianAnalyzer;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.miscellaneous.ScandinavianFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.TrimFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterGraphFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenizer;
import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.apache.lucene.analysis.nl.DutchAnalyzer;
import org.apache.lucene.analysis.path.PathHierarchyTokenizer;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.pt.PortugueseAnalyzer;
import org.apache.lucene.analysis.reverse.ReverseStringFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingCharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.PreBuiltAnalyzerProviderFactory;
import org.elasticsearch.index.analysis.PreConfiguredCharFilter;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.index.analysis.PreConfiguredTokenizer;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.indices.analysis.PreBuiltCacheFactory.CachingStrategy;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.io.Reader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Common tokenizers, token filters, char filters and language analyzers.
 *
 * Upstream these come from the analysis-common module, which Elastic does not publish to Maven Central;
 * here they are built from the Lucene classes already on the classpath. Each component is usable by bare
 * name ({@code "filter": ["lowercase", "asciifolding"]}) and as a typed definition. Typed definitions
 * accept only the parameters listed in {@link #SUPPORTED}; any other parameter is rejected with an
 * error rather than silently ignored.
 */
public final class BasicAnalysisPlugin extends Plugin implements AnalysisPlugin {

    private static final Pattern NON_WORD = Pattern.compile("\\W+");
    private static final Set<String> ALWAYS_ALLOWED = Set.of("type", "index.version.created");

    /** Parameters honoured by the typed definitions; components not listed take none. */
    static final Map<String, Set<String>> SUPPORTED = Map.of(
        "pattern", Set.of("pattern", "group", "flags"),
        "ngram", Set.of("min_gram", "max_gram"),
        "edge_ngram", Set.of("min_gram", "max_gram"),
        "uax_url_email", Set.of("max_token_length"),
        "path_hierarchy", Set.of("delimiter", "replacement", "skip"),
        "asciifolding", Set.of("preserve_original"),
        "stemmer", Set.of("language", "name"),
        "snowball", Set.of("language"),
        "html_strip", Set.of("escaped_tags")
    );

    // ------------------------------------------------------------------ tokenizers

    private static Map<String, Function<Settings, Tokenizer>> tokenizers() {
        Map<String, Function<Settings, Tokenizer>> m = new LinkedHashMap<>();
        m.put("keyword", s -> new KeywordTokenizer());
        m.put("whitespace", s -> new WhitespaceTokenizer());
        m.put("letter", s -> new LetterTokenizer());
        m.put("classic", s -> new ClassicTokenizer());
        m.put("uax_url_email", s -> {
            UAX29URLEmailTokenizer t = new UAX29URLEmailTokenizer();
            t.setMaxTokenLength(s.getAsInt("max_token_length", 255));
            return t;
        });
        m.put("pattern", s -> {
            String p = s.get("pattern");
            String flags = s.get("flags");
            Pattern pattern = p == null ? NON_WORD : Pattern.compile(p, flags == null ? 0 : regexFlags(flags));
            return new PatternTokenizer(pattern, s.getAsInt("group", -1));
        });
        m.put("ngram", s -> new NGramTokenizer(s.getAsInt("min_gram", 1), s.getAsInt("max_gram", 2)));
        m.put("edge_ngram", s -> new EdgeNGramTokenizer(s.getAsInt("min_gram", 1), s.getAsInt("max_gram", 2)));
        m.put("path_hierarchy", s -> {
            char delimiter = oneChar(s, "delimiter", PathHierarchyTokenizer.DEFAULT_DELIMITER);
            return new PathHierarchyTokenizer(delimiter, oneChar(s, "replacement", delimiter), s.getAsInt("skip", 0));
        });
        return m;
    }

    // ------------------------------------------------------------------ token filters (normalizing = usable in normalizers)

    private record FilterDef(boolean normalizing, Function<Settings, Function<TokenStream, TokenStream>> build) {}

    private static FilterDef fixed(boolean normalizing, Function<TokenStream, TokenStream> fn) {
        return new FilterDef(normalizing, s -> fn);
    }

    private static Map<String, FilterDef> filters() {
        Map<String, FilterDef> m = new LinkedHashMap<>();
        m.put("asciifolding", new FilterDef(true, s -> {
            boolean keep = s.getAsBoolean("preserve_original", false);
            return ts -> new ASCIIFoldingFilter(ts, keep);
        }));
        m.put("uppercase", fixed(true, UpperCaseFilter::new));
        m.put("trim", fixed(true, TrimFilter::new));
        m.put("decimal_digit", fixed(true, DecimalDigitFilter::new));
        m.put("cjk_width", fixed(true, CJKWidthFilter::new));
        m.put("german_normalization", fixed(true, GermanNormalizationFilter::new));
        m.put("scandinavian_folding", fixed(true, ScandinavianFoldingFilter::new));
        m.put("cjk_bigram", fixed(false, CJKBigramFilter::new));
        m.put("classic", fixed(false, ClassicFilter::new));
        m.put("porter_stem", fixed(false, PorterStemFilter::new));
        m.put("kstem", fixed(false, KStemFilter::new));
        m.put("stemmer", new FilterDef(false, s -> stemmer(s.get("language", s.get("name", "english")))));
        m.put("snowball", new FilterDef(false, s -> snowball(s.get("language", "English"))));
        m.put("english_possessive", fixed(false, EnglishPossessiveFilter::new));
        m.put("reverse", fixed(false, ReverseStringFilter::new));
        m.put("unique", fixed(false, RemoveDuplicatesTokenFilter::new));
        m.put("flatten_graph", fixed(false, FlattenGraphFilter::new));
        m.put("word_delimiter_graph", fixed(false, ts -> new WordDelimiterGraphFilter(
            ts,
            WordDelimiterGraphFilter.GENERATE_WORD_PARTS | WordDelimiterGraphFilter.GENERATE_NUMBER_PARTS
                | WordDelimiterGraphFilter.SPLIT_ON_CASE_CHANGE | WordDelimiterGraphFilter.SPLIT_ON_NUMERICS
                | WordDelimiterGraphFilter.STEM_ENGLISH_POSSESSIVE,
            null
        )));
        return m;
    }

    private static Function<TokenStream, TokenStream> stemmer(String language) {
        String lang = language.toLowerCase(Locale.ROOT);
        if (lang.equals("english") || lang.equals("porter")) {
            return PorterStemFilter::new;
        }
        if (lang.equals("light_english") || lang.equals("kstem")) {
            return KStemFilter::new;
        }
        return snowball(lang);
    }

    private static Function<TokenStream, TokenStream> snowball(String language) {
        String name = language.substring(0, 1).toUpperCase(Locale.ROOT) + language.substring(1).toLowerCase(Locale.ROOT);
        try {
            Class.forName("org.tartarus.snowball.ext." + name + "Stemmer");
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("unsupported stemmer language [" + language + "] (snowball languages only)");
        }
        return ts -> new SnowballFilter(ts, name);
    }

    // ------------------------------------------------------------------ plugin API

    @Override
    public List<PreConfiguredCharFilter> getPreConfiguredCharFilters() {
        return List.of(PreConfiguredCharFilter.singleton("html_strip", false, HTMLStripCharFilter::new));
    }

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        return Map.of("html_strip", (indexSettings, env, name, s) -> {
            check("html_strip", name, s);
            Set<String> escaped = new HashSet<>(s.getAsList("escaped_tags", List.of()));
            return new CharFilterFactory() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public Reader create(Reader reader) {
                    return escaped.isEmpty() ? new HTMLStripCharFilter(reader) : new HTMLStripCharFilter(reader, escaped);
                }
            };
        });
    }

    @Override
    public List<PreConfiguredTokenizer> getPreConfiguredTokenizers() {
        List<PreConfiguredTokenizer> out = new ArrayList<>();
        tokenizers().forEach((name, build) -> out.add(PreConfiguredTokenizer.singleton(name, () -> build.apply(Settings.EMPTY))));
        return out;
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        Map<String, AnalysisProvider<TokenizerFactory>> out = new LinkedHashMap<>();
        tokenizers().forEach((type, build) -> out.put(type, (indexSettings, env, name, s) -> {
            check(type, name, s);
            build.apply(s); // validate eagerly
            return TokenizerFactory.newFactory(name, () -> build.apply(s));
        }));
        return out;
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        List<PreConfiguredTokenFilter> out = new ArrayList<>();
        filters().forEach((name, def) -> out.add(PreConfiguredTokenFilter.singleton(name, def.normalizing(), def.build().apply(Settings.EMPTY))));
        return out;
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        Map<String, AnalysisProvider<TokenFilterFactory>> out = new LinkedHashMap<>();
        filters().forEach((type, def) -> out.put(type, (indexSettings, env, name, s) -> {
            check(type, name, s);
            Function<TokenStream, TokenStream> fn = def.build().apply(s);
            if (def.normalizing()) {
                return new NormalizingTokenFilterFactory() {
                    @Override
                    public String name() {
                        return name;
                    }

                    @Override
                    public TokenStream create(TokenStream ts) {
                        return fn.apply(ts);
                    }
                };
            }
            return new TokenFilterFactory() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public TokenStream create(TokenStream ts) {
                    return fn.apply(ts);
                }
            };
        }));
        return out;
    }

    @Override
    public List<PreBuiltAnalyzerProviderFactory> getPreBuiltAnalyzerProviderFactories() {
        return List.of(
            analyzer("english", EnglishAnalyzer::new),
            analyzer("french", FrenchAnalyzer::new),
            analyzer("german", GermanAnalyzer::new),
            analyzer("spanish", SpanishAnalyzer::new),
            analyzer("italian", ItalianAnalyzer::new),
            analyzer("portuguese", PortugueseAnalyzer::new),
            analyzer("dutch", DutchAnalyzer::new)
        );
    }

    // ------------------------------------------------------------------ helpers

    private static PreBuiltAnalyzerProviderFactory analyzer(String name, Supplier<Analyzer> supplier) {
        return new PreBuiltAnalyzerProviderFactory(name, CachingStrategy.ONE, supplier);
    }

    private static void check(String type, String name, Settings s) {
        Set<String> ok = SUPPORTED.getOrDefault(type, Set.of());
        for (String key : s.keySet()) {
            String base = key.contains(".") && key.startsWith("index.") == false ? key.substring(0, key.indexOf('.')) : key;
            if (ALWAYS_ALLOWED.contains(key) == false && ok.contains(base) == false) {
                throw new IllegalArgumentException(
                    "[" + type + "] '" + name + "': parameter [" + key + "] is not supported by the brandpulse es-node"
                        + (ok.isEmpty() ? " (no parameters supported)" : " (supported: " + ok + ")")
                );
            }
        }
    }

    private static char oneChar(Settings s, String key, char dflt) {
        String v = s.get(key);
        if (v == null) {
            return dflt;
        }
        if (v.length() != 1) {
            throw new IllegalArgumentException("[" + key + "] must be a single character");
        }
        return v.charAt(0);
    }

    private static int regexFlags(String flags) {
        int out = 0;
        for (String f : flags.split("\\|")) {
            switch (f.trim().toUpperCase(Locale.ROOT)) {
                case "CASE_INSENSITIVE" -> out |= Pattern.CASE_INSENSITIVE;
                case "MULTILINE" -> out |= Pattern.MULTILINE;
                case "DOTALL" -> out |= Pattern.DOTALL;
                case "UNICODE_CASE" -> out |= Pattern.UNICODE_CASE;
                case "COMMENTS" -> out |= Pattern.COMMENTS;
                case "UNICODE_CHARACTER_CLASS" -> out |= Pattern.UNICODE_CHARACTER_CLASS;
                case "" -> { }
                default -> throw new IllegalArgumentException("unknown regex flag [" + f + "]");
            }
        }
        return out;
    }
}
