package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The warm-up starts with the JVM only for a merge that will run. */
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
}
