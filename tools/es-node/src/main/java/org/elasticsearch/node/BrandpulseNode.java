package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;
import java.util.List;

/**
 * A regular {@link Node} whose plugins are plain classes from the classpath (no modules/ or plugins/ folders).
 *
 * Lives in org.elasticsearch.node because {@code NodeConstruction} and {@code NodeServiceProvider} are package-private.
 * Unlike the test framework's MockNode it does not touch ESTestCase (whose static init installs test-only machinery).
 */
public class BrandpulseNode extends Node {

    public BrandpulseNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader pluginsLoader) {
                return new MockPluginsService(env.settings(), env, List.copyOf(classpathPlugins));
            }
        }, true));
    }
}
