package io.brandpulse.esnode;

import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.BrandpulseNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts a single-node Elasticsearch 8 cluster for development, tests and demos.
 *
 * Usage: Main --state-dir DIR [--port 9200] [--cluster-name NAME] [--node-name NAME] [--setting key=value]...
 *
 * Layout under the state dir: home/ config/ data/ logs/ (es-node.log), node.pid.
 * Exit codes: 0 clean shutdown, 1 startup failure, 2 bad arguments.
 */
public final class Main {

    private static final String LOG4J_CONFIG = """
        status = error
        appender.file.type = File
        appender.file.name = file
        appender.file.fileName = ${sys:es.logs.base_path}${sys:file.separator}es-node.log
        appender.file.layout.type = PatternLayout
        appender.file.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
        rootLogger.level = info
        rootLogger.appenderRef.file.ref = file
        appender.header_warning.type = HeaderWarningAppender
        appender.header_warning.name = header_warning
        logger.deprecation.name = org.elasticsearch.deprecation
        logger.deprecation.level = WARN
        logger.deprecation.appenderRef.header_warning.ref = header_warning
        logger.deprecation.additivity = false
        logger.netty.name = io.netty
        logger.netty.level = warn
        """;

    private Main() {}

    public static void main(String[] args) {
        Map<String, String> opts;
        List<String> extra = new ArrayList<>();
        try {
            opts = parseArgs(args, extra);
        } catch (IllegalArgumentException e) {
            System.err.println("brandpulse-es-node: " + e.getMessage());
            System.err.println("usage: Main --state-dir DIR [--port 9200] [--cluster-name N] [--node-name N] [--setting k=v]...");
            System.exit(2);
            return;
        }
        try {
            run(opts, extra);
        } catch (Throwable t) {
            System.err.println("brandpulse-es-node: failed to start: " + t);
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static Map<String, String> parseArgs(String[] args, List<String> extra) {
        Map<String, String> opts = new java.util.HashMap<>();
        opts.put("port", "9200");
        opts.put("cluster-name", "brandpulse-dev");
        opts.put("node-name", "brandpulse-es");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("--") == false || i + 1 >= args.length) {
                throw new IllegalArgumentException("unexpected argument: " + a);
            }
            String key = a.substring(2);
            String value = args[++i];
            if (key.equals("setting")) {
                extra.add(value);
            } else if (opts.containsKey(key) || key.equals("state-dir")) {
                opts.put(key, value);
            } else {
                throw new IllegalArgumentException("unknown option: " + a);
            }
        }
        if (opts.get("state-dir") == null) {
            throw new IllegalArgumentException("--state-dir is required");
        }
        Integer.parseInt(opts.get("port"));
        return opts;
    }

    static Settings nodeSettings(Path state, Map<String, String> opts, List<String> extra) {
        Settings.Builder b = Settings.builder()
            .put("cluster.name", opts.get("cluster-name"))
            .put("node.name", opts.get("node-name"))
            .put("path.home", state.resolve("home").toString())
            .put("path.data", state.resolve("data").toString())
            .put("path.logs", state.resolve("logs").toString())
            .put("path.repo", state.resolve("snapshots").toString())
            .put("network.host", "127.0.0.1")
            .put("http.host", "127.0.0.1")
            .put("http.port", opts.get("port"))
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("transport.host", "127.0.0.1")
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            // a tiny dev/test node on a possibly nearly-full disk: never go read-only because of disk usage
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", "true")
            .put("action.destructive_requires_name", false)
            .put("bootstrap.memory_lock", false)
            .put("indices.id_field_data.enabled", true)
            .put("cluster.max_shards_per_node", 5000);
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--setting expects key=value, got: " + kv);
            }
            b.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return b.build();
    }

    private static void run(Map<String, String> opts, List<String> extra) throws Exception {
        Path state = Path.of(opts.get("state-dir")).toAbsolutePath().normalize();
        Path config = state.resolve("config");
        for (String d : List.of("home", "config", "data", "logs", "snapshots")) {
            Files.createDirectories(state.resolve(d));
        }
        Files.writeString(config.resolve("log4j2.properties"), LOG4J_CONFIG, StandardCharsets.UTF_8);
        Path pidFile = state.resolve("node.pid");
        long pid = ProcessHandle.current().pid();
        Files.writeString(pidFile, Long.toString(pid) + "\n", StandardCharsets.UTF_8);

        Settings settings = nodeSettings(state, opts, extra);
        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> opts.get("node-name"));
        LogConfigurator.setClusterName(ClusterName.CLUSTER_NAME_SETTING.get(env.settings()).value());
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env, true);

        List<Class<? extends Plugin>> plugins = Plugins.available();
        System.out.println("brandpulse-es-node: plugins " + plugins);

        Node node = new BrandpulseNode(env, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("brandpulse-es-node: shutting down");
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException | RuntimeException e) {
                System.err.println("brandpulse-es-node: error while closing: " + e);
            } finally {
                deletePidFile(pidFile, pid);
                stopped.countDown();
            }
        }, "brandpulse-es-shutdown"));
        node.start();
        System.out.println("brandpulse-es-node: started pid=" + pid + " http=127.0.0.1:" + opts.get("port"));
        stopped.await();
    }

    private static void deletePidFile(Path pidFile, long pid) {
        try {
            if (Files.exists(pidFile) && Files.readString(pidFile).trim().equals(Long.toString(pid))) {
                Files.delete(pidFile);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }
}
