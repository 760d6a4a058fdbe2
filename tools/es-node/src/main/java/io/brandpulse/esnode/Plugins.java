package io.brandpulse.esnode;

import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.util.ArrayList;
import java.util.List;

/** The classpath plugins loaded into the node. */
final class Plugins {
    private Plugins() {}

    static List<Class<? extends Plugin>> available() {
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        plugins.add(Netty4Plugin.class);
        plugins.add(RootInfoPlugin.class);
        plugins.add(BasicAnalysisPlugin.class);
        return plugins;
    }
}
