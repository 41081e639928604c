package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
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
        assertProbe(kernel.name());
    }

    /** Started on the wrong kernel and then asked for another, the warm-up leaves the first and compiles the one asked for. */
    @ParameterizedTest
    @CsvSource({"LINEAR,GRADIENT_MATCHING_BF16", "GRADIENT_MATCHING,GRADIENT_MATCHING_BF16"})
    void aKernelAMergeAsksForIsWarmedUpInsteadOfTheGuess(String kernel, String guess) throws Exception {
        assertProbe(kernel, guess);
    }

    /**
     * A removal on BF16, the warm-up started on the BF16 kernel (as the command line starts it for
     * gradient matching): the merge asks for the general kernel, which removal takes; the compiled
     * kernel has seen the safeguard's clamp and fallback (the warm-up runs them), so nothing is
     * thrown away, and the merge counts the general path's clamps.
     */
    @Test
    void aRemovalAfterTheWarmUpRunsTheCompiledKernelAndCountsTheClamps() throws Exception {
        String out = assertProbe(DirectKernel.GRADIENT_MATCHING.name(), DirectKernel.GRADIENT_MATCHING_BF16.name(), "remove");
        assertTrue(out.endsWith(" clamps=same"), out);
    }

    private static String assertProbe(String... args) throws Exception {
        int bits = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        assumeTrue(bits >= 128, "this CPU has no vector kernels to warm up");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        // the JVM's log of compiled code thrown away: none of a direct kernel's may be, during the
        // warm-up or the merge (an input the warm-up never showed it, such as a zero Hbar, would
        // leave the merge on the uncompiled Vector API until C2 has compiled it again)
        Path deopt = Files.createTempFile("ugm-deopt-", ".log");
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-Xlog:deoptimization=debug:file=" + deopt,
                // the JIT options the launchers give a merge: at the default thresholds C2 takes the kernel
                // up seconds later, and on a loaded machine the warm-up gave up first (20 s)
                "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=CompileThresholdScaling," + WarmUp.COMPILE_COMMAND_METHODS + "," + WarmUp.COMPILE_THRESHOLD_SCALING,
                "-XX:CompileThresholdScaling=" + WarmUp.OTHER_SCALING));
        for (String fallback : WarmUp.FALLBACK_METHODS) {
            command.add("-XX:CompileCommand=CompileThresholdScaling," + fallback + "," + WarmUp.FALLBACK_SCALING);
        }
        command.addAll(List.of("-cp", ugm.core.ProbeJvm.classPath(WarmUpProbe.class, ugm.core.kernel.Kernels.class),
                WarmUpProbe.class.getName(), args[0], args.length > 1 ? args[1] : args[0], args.length > 2 ? args[2] : "add"));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the probe JVM finished");
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), out);
        assertTrue(out.startsWith("hot=true other=false same=true kernels=vector-" + bits), out);
        List<String> thrownAway = Files.readAllLines(deopt).stream().filter(l -> l.contains("VectorKernels.direct")).toList();
        Files.delete(deopt);
        assertEquals(List.of(), thrownAway, "compiled direct kernels thrown away");
        return out;
    }

    @Test
    void scratchTooSmallIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> WarmUp.start(Kernels.get(), Arena.ofAuto().allocate(16), () -> { }));
    }
}
