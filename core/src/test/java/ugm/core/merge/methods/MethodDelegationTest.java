package ugm.core.merge.methods;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import ugm.core.merge.MergeMethod;

/**
 * {@link Method} hands every question to its implementation: a default method of
 * {@link MergeMethod} it does not override would answer with the default for every method,
 * whatever the implementation says.
 */
class MethodDelegationTest {
    @Test
    void everyMethodOfTheInterfaceIsHandedOn() {
        List<String> missing = new ArrayList<>();
        for (java.lang.reflect.Method m : MergeMethod.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) {
                continue;
            }
            try {
                Method.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
            } catch (NoSuchMethodException e) {
                missing.add(m.getName());
            }
        }
        assertTrue(missing.isEmpty(), "Method does not override " + missing);
    }
}
