package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How {@code ugm.vector.bits} and the presence of the vector module choose the kernels. */
class KernelSelectorTest {
    final List<String> log = new ArrayList<>();
    final int preferred = VectorKernels.preferredBits();

    @Test
    void zeroMeansScalarSilently() {
        assertSame(Kernels.scalar(), Kernels.select("0", log::add));
        assertEquals("scalar", Kernels.select(" 0 ", log::add).name());
        assertEquals(List.of(), log);
    }

    @Test
    void unsetMeansThePreferredWidthSilently() {
        Kernels k = Kernels.select(null, log::add);
        assertEquals(preferred >= 128 ? "vector-" + preferred : "scalar", k.name());
        assertEquals(preferred >= 128 ? List.of() : List.of(log.getFirst()), log);
    }

    @Test
    void aSupportedWidthIsUsedAsAsked() {
        for (int bits : Implementations.WIDTHS) {
            if (bits <= preferred) {
                assertEquals("vector-" + bits, Kernels.select(Integer.toString(bits), log::add).name());
            }
        }
        assertEquals(List.of(), log);
    }

    @Test
    void aWidthBeyondTheCpuFallsBackToThePreferredWithOneLine() {
        Kernels k = Kernels.select("1024", log::add);
        assertEquals("vector-" + preferred, k.name());
        assertEquals(1, log.size());
        assertTrue(log.getFirst().contains("ugm.vector.bits=1024"), log.getFirst());
        if (preferred < 512) {
            log.clear();
            assertEquals("vector-" + preferred, Kernels.select("512", log::add).name());
            assertTrue(log.getFirst().contains("exceeds"), log.getFirst());
        }
    }

    @Test
    void nonsenseIsIgnoredWithOneLine() {
        assertEquals("vector-" + preferred, Kernels.select("wide", log::add).name());
        assertEquals(1, log.size());
        assertTrue(log.getFirst().contains("ignoring ugm.vector.bits=wide"), log.getFirst());
    }

    @Test
    void getReturnsOneInstanceForTheJvm() {
        assertTrue(Kernels.get() == Kernels.get());
        String property = System.getProperty(Kernels.BITS_PROPERTY);
        if (property == null && preferred >= 128) {
            assertEquals("vector-" + preferred, Kernels.get().name());
        }
    }

    /** A JVM without --add-modules jdk.incubator.vector: scalar kernels and exactly one line on stderr. */
    @Test
    void withoutTheVectorModuleAJvmFallsBackToScalarWithOneLine() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        String classPath = ugm.core.ProbeJvm.classPath(SelectorProbe.class, Kernels.class);
        Process process = new ProcessBuilder(java, "-cp", classPath, SelectorProbe.class.getName()).start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the probe JVM finished");
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), err);
        assertEquals("scalar 3.0", out);
        List<String> lines = err.lines().toList();
        assertEquals(1, lines.size(), err);
        assertTrue(lines.getFirst().contains("--add-modules jdk.incubator.vector"), err);
    }
}
