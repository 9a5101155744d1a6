package eddy.registry;

import java.util.List;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;

/** Stands in for the unresolvable apicurio-common-app-components-config-index-deployment extension. */
/**
 * Stands in for apicurio-common-app-components-config-index (its deployment module is not
 * served by Maven Central here): no registry setting changes at run time; defaults apply.
 */
public class DynamicPropsProducer {
    @Produces
    @Singleton
    DynamicConfigPropertyList dynamicConfigPropertyList() {
        return new DynamicConfigPropertyList(List.of());
    }
}
