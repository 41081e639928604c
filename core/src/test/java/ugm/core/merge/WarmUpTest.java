package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import ugm.core.kernel.DirectKernel;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.WarmUp;

/**
 * {@link WarmUp} compiles the direct vector kernel it is asked for, and no other, and says so
 * only once it beats the scalar twin; a small merge then switches to it and writes the scalar
 * twin's bytes. Checked in
 * a fresh JVM ({@link WarmUpProbe}): this one has run the kernels at every vector width, so its
 * compiled code is not what a real merge runs.
 */
class WarmUpTest {

    @ParameterizedTest
    @EnumSource(DirectKernel.class)
    void aSmallMergeSwitchesToTheWarmedUpKernelAndWritesTheScalarTwinsBytes(DirectKernel kernel) throws Exception {
        int bits = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        assumeTrue(bits >= 128, "this CPU has no vector kernels to warm up");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        // the JIT options the launchers give a merge: at the default thresholds C2 takes the kernel
        // up seconds later, and on a loaded machine the warm-up gave up first (20 s)
        Process process = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=CompileThresholdScaling," + WarmUp.COMPILE_COMMAND_METHODS + "," + WarmUp.COMPILE_THRESHOLD_SCALING,
                "-cp", ugm.core.ProbeJvm.classPath(WarmUpProbe.class, ugm.core.kernel.Kernels.class),
                WarmUpProbe.class.getName(), kernel.name()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the probe JVM finished");
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), out);
        assertTrue(out.startsWith("hot=true other=false same=true kernels=vector-" + bits), out);
    }

    @Test
    void scratchTooSmallIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> WarmUp.start(Kernels.get(), Arena.ofAuto().allocate(16), () -> { }));
    }
}
