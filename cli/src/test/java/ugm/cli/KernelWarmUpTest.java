package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.kernel.DirectKernel;

/** The warm-up starts with the JVM only for a merge that will run, and compiles the direct kernel of its method alone. */
class KernelWarmUpTest {

    @Test
    void onlyAMergeThatWillRunWarmsUp() {
        assertTrue(KernelWarmUp.wanted(new String[] {"merge", "cfg.yml", "out"}));
        assertTrue(KernelWarmUp.wanted(new String[] {"merge", "--method", "ties", "--out", "o"}));
        assertFalse(KernelWarmUp.wanted(new String[] {}));
        assertFalse(KernelWarmUp.wanted(new String[] {"inspect", "m"}));
        assertFalse(KernelWarmUp.wanted(new String[] {"convert", "merge"}));
        assertFalse(KernelWarmUp.wanted(new String[] {"merge", "--dry-run", "cfg.yml", "out"}));
        assertFalse(KernelWarmUp.wanted(new String[] {"merge", "--help"}));
        assertFalse(KernelWarmUp.wanted(new String[] {"merge", "-h"}));
    }

    @Test
    void theKernelIsThatOfTheMethodOnTheCommandLine() {
        assertEquals(DirectKernel.LINEAR, KernelWarmUp.kernelFor(new String[] {"merge", "--method", "linear", "--out", "o"}));
        assertEquals(DirectKernel.LINEAR, KernelWarmUp.kernelFor(new String[] {"merge", "--model", "m", "--method=TASK_ARITHMETIC"}));
        assertEquals(DirectKernel.GRADIENT_MATCHING_BF16, KernelWarmUp.kernelFor(new String[] {"merge", "--method", "gradient_matching"}));
        assertEquals(DirectKernel.GRADIENT_MATCHING, KernelWarmUp.kernelFor(new String[] {"merge", "--method", "gradient_matching", "--remove"}),
                "removal takes the general gradient-matching kernel");
        assertEquals(DirectKernel.GRADIENT_MATCHING, KernelWarmUp.kernelFor(new String[] {"merge", "--remove=true", "--method=gradient_matching"}));
        assertEquals(DirectKernel.LINEAR, KernelWarmUp.kernelFor(new String[] {"merge", "--method", "task_arithmetic", "--remove"}));
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", "--method", "ties", "--out", "o"}), "ties has no direct kernel");
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", "--method", "no_such_method"}));
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", "--method"}));
    }

    @Test
    void theKernelIsThatOfTheConfigsMergeMethod(@TempDir Path dir) throws IOException {
        Path soup = Files.writeString(dir.resolve("soup.yml"), "merge_method: linear\nmodels:\n  - model: a\n  - model: b\n");
        Path gm = Files.writeString(dir.resolve("gm.yaml"), "models: [{model: a}]\nmerge_method: Gradient_Matching\n");
        Path ties = Files.writeString(dir.resolve("ties.yml"), "merge_method: ties\n");
        Path removal = Files.writeString(dir.resolve("removal.yml"), "merge_method: gradient_matching\nparameters:\n  remove: true\n");
        Path kept = Files.writeString(dir.resolve("kept.yml"), "merge_method: gradient_matching\nparameters: {remove: false}\n");
        Path broken = Files.writeString(dir.resolve("broken.yml"), "merge_method: [linear\n");
        String out = dir.resolve("out").toString();
        assertEquals(DirectKernel.LINEAR, KernelWarmUp.kernelFor(new String[] {"merge", soup.toString(), out}));
        assertEquals(DirectKernel.GRADIENT_MATCHING_BF16, KernelWarmUp.kernelFor(new String[] {"merge", "--threads", "2", gm.toString(), out}));
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", ties.toString(), out}));
        assertEquals(DirectKernel.GRADIENT_MATCHING, KernelWarmUp.kernelFor(new String[] {"merge", removal.toString(), out}),
                "removal takes the general gradient-matching kernel");
        assertEquals(DirectKernel.GRADIENT_MATCHING_BF16, KernelWarmUp.kernelFor(new String[] {"merge", kept.toString(), out}));
        assertEquals(DirectKernel.GRADIENT_MATCHING, KernelWarmUp.kernelFor(new String[] {"merge", gm.toString(), out, "--remove"}));
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", broken.toString(), out}));
        assertNull(KernelWarmUp.kernelFor(new String[] {"merge", dir.resolve("missing.yml").toString(), out}));
    }
}
