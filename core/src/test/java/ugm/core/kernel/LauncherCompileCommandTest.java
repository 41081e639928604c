package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The launchers ({@code ugm} at the project's root, and {@code bin/ugm-dist-launcher}, the
 * runtime image's {@code bin/ugm}) lower the compile threshold of the direct kernels by naming
 * their methods, and raise that of the Vector API's fallbacks by naming theirs; a rename (ours or
 * the JDK's) must not leave them naming nothing.
 */
class LauncherCompileCommandTest {

    @ParameterizedTest
    @ValueSource(strings = {"ugm", "bin/ugm-dist-launcher"})
    void theLaunchersCompileCommandNamesTheDirectKernels(String path) throws IOException, ClassNotFoundException {
        Path launcher = Path.of("..").resolve(path);
        assumeTrue(Files.isRegularFile(launcher), "no launcher beside this module");
        Matcher m = Pattern.compile("CompileThresholdScaling,([\\w.$]+)::([\\w*]+),([\\d.]+)").matcher(Files.readString(launcher));
        assertTrue(m.find(), "the launcher sets a compile threshold");
        assertEquals(WarmUp.COMPILE_COMMAND_METHODS, m.group(1) + "::" + m.group(2));
        assertEquals(WarmUp.COMPILE_THRESHOLD_SCALING, m.group(3), "the scaling the warm-up's test runs with");

        Pattern methods = Pattern.compile(m.group(2).replace("*", ".*"));
        Set<String> named = Arrays.stream(Class.forName(m.group(1)).getDeclaredMethods()).map(Method::getName)
                .filter(n -> methods.matcher(n).matches()).collect(Collectors.toSet());
        assertEquals(Set.of("direct", "directBf16", "directLinear"), named,
                "the methods the pattern names: the direct kernels (gradient matching, all-BF16 gradient matching, the linear family)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ugm", "bin/ugm-dist-launcher"})
    void theLaunchersKeepTheVectorApisFallbacksOutOfC2sQueue(String path) throws IOException, ClassNotFoundException {
        Path launcher = Path.of("..").resolve(path);
        assumeTrue(Files.isRegularFile(launcher), "no launcher beside this module");
        String text = Files.readString(launcher);
        Matcher m = Pattern.compile("CompileThresholdScaling,\\$m,([\\d.]+)").matcher(text);
        assertTrue(m.find(), "the launcher scales the fallbacks' thresholds");
        assertEquals(WarmUp.FALLBACK_SCALING, m.group(1));
        assertTrue(text.contains("-XX:CompileThresholdScaling=" + WarmUp.OTHER_SCALING + ")")
                || text.contains("-XX:CompileThresholdScaling=" + WarmUp.OTHER_SCALING + "\""), path + " scales every other method's thresholds");
        for (String pattern : WarmUp.FALLBACK_METHODS) {
            assertTrue(text.contains("'" + pattern + "'"), path + " names " + pattern);
            String cls = pattern.substring(0, pattern.indexOf("::"));
            String method = pattern.substring(pattern.indexOf("::") + 2);
            // where the pattern ends in '*': the vector classes our kernels use and their nested
            // classes (the species), where each fallback is declared
            List<Class<?>> classes = new ArrayList<>();
            for (String c : cls.endsWith(".*") ? List.of("jdk.incubator.vector.FloatVector", "jdk.incubator.vector.IntVector",
                    "jdk.incubator.vector.ShortVector") : List.of(cls)) {
                classes.add(Class.forName(c));
                classes.addAll(Arrays.asList(Class.forName(c).getDeclaredClasses()));
            }
            boolean declared = classes.stream().flatMap(c -> Arrays.stream(c.getDeclaredMethods()))
                    .anyMatch(x -> method.equals("*") || x.getName().equals(method));
            assertTrue(declared, pattern + ": the JDK declares no such method");
        }
    }
}
