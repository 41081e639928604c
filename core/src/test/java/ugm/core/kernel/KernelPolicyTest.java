package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;
import ugm.core.DType;

/** The three policies, how {@code ugm.vector.after} chooses among them, and what one run's workers get. */
class KernelPolicyTest {
    final Kernels vector = Implementations.vectors().getLast();

    @Test
    void theAfterPropertyChoosesThePolicyAsLongGetLongReadsIt() {
        assertEquals(KernelPolicy.Mode.SCALAR_FIRST, KernelPolicy.of(vector, null, null).mode());
        assertEquals(KernelPolicy.Mode.SCALAR_FIRST, KernelPolicy.of(vector, "junk", null).mode()); // the default, 4 GiB
        assertEquals(KernelPolicy.Mode.SCALAR_FIRST, KernelPolicy.of(vector, "1", null).mode());
        assertEquals(KernelPolicy.Mode.VECTOR, KernelPolicy.of(vector, "0", null).mode());
        assertEquals(KernelPolicy.Mode.VECTOR, KernelPolicy.of(vector, "-1", null).mode());
        assertSame(KernelPolicy.scalarOnly(), KernelPolicy.of(Kernels.scalar(), "0", null));
        assertSame(KernelPolicy.scalarOnly(), KernelPolicy.of(Kernels.scalar(), null, null));
        assertSame(vector, KernelPolicy.of(vector, "0", null).kernels());
        assertThrows(IllegalArgumentException.class, () -> KernelPolicy.scalarFirst(vector, 0, null));
    }

    @Test
    void defaultsReadThePropertyAtEachCall() {
        String before = System.getProperty(KernelPolicy.AFTER_PROPERTY);
        try {
            System.setProperty(KernelPolicy.AFTER_PROPERTY, "0");
            KernelPolicy vectorFirst = KernelPolicy.defaults();
            System.setProperty(KernelPolicy.AFTER_PROPERTY, "12345");
            KernelPolicy scalarFirst = KernelPolicy.defaults();
            if (!Kernels.get().isScalar()) {
                assertEquals(KernelPolicy.Mode.VECTOR, vectorFirst.mode());
                assertEquals(KernelPolicy.Mode.SCALAR_FIRST, scalarFirst.mode());
                assertTrue(scalarFirst.start(12345, true).probes());
                assertFalse(scalarFirst.start(12344, true).probes());
            }
        } finally {
            if (before == null) {
                System.clearProperty(KernelPolicy.AFTER_PROPERTY);
            } else {
                System.setProperty(KernelPolicy.AFTER_PROPERTY, before);
            }
        }
    }

    @Test
    void vectorOnlyRunsTheVectorKernelsFromTheFirstCall() {
        KernelPolicy.Switchover run = KernelPolicy.vectorOnly(vector).start(Long.MAX_VALUE, true);
        assertFalse(run.probes());
        KernelPolicy.Worker w = run.worker(true);
        assertSame(vector, w.next(false));
        assertSame(vector, w.direct(vector, DirectKernel.GRADIENT_MATCHING, DType.BF16));
        w.done(512);
        assertEquals(vector.name(), run.kernelsUsed());
    }

    @Test
    void scalarOnlyNeverSwitches() {
        KernelPolicy.Switchover run = KernelPolicy.scalarOnly().start(Long.MAX_VALUE, true);
        assertFalse(run.probes());
        KernelPolicy.Worker w = run.worker(true);
        assertSame(Kernels.scalar(), w.next(false));
        assertSame(Kernels.scalar(), w.direct(Kernels.scalar(), DirectKernel.GRADIENT_MATCHING, DType.BF16));
        assertEquals("scalar", run.kernelsUsed());
    }

    @Test
    void scalarFirstProbesOnlyLargeRunsThatMayUseOtherThreadsAndSwitchesWhenTheProbeLevelsOff() {
        KernelPolicy p = KernelPolicy.scalarFirst(vector, 1000, null);
        assertFalse(p.start(999, true).probes());
        assertFalse(p.start(1000, false).probes(), "all on one thread by necessity: no probe");
        KernelPolicy.Switchover run = p.start(1000, true);
        assertTrue(run.probes());
        KernelPolicy.Worker other = run.worker(false);
        KernelPolicy.Worker probe = run.worker(true);
        assertSame(Kernels.scalar(), other.next(false));
        assertEquals("scalar", run.kernelsUsed());
        // the probe's calls run the vector kernels until its time per element levels off; then everyone switches
        int calls = 0;
        while (other.next(false) != vector) {
            assertSame(vector, probe.next(false));
            probe.done(512);
            assertTrue(++calls < 100_000, "the probe never levelled off");
        }
        assertSame(vector, probe.next(false));
        assertTrue(run.kernelsUsed().startsWith(vector.name() + " (scalar for the first "), run.kernelsUsed());
    }

    @Test
    void scalarFirstTakesTheDirectKernelOnlyOnceTheWarmUpIsHot() throws InterruptedException {
        KernelPolicy cold = KernelPolicy.scalarFirst(vector, Long.MAX_VALUE, null);
        KernelPolicy.Worker w = cold.start(0, true).worker(true);
        assertSame(Kernels.scalar(), w.next(true));
        assertSame(Kernels.scalar(), w.direct(Kernels.scalar(), DirectKernel.GRADIENT_MATCHING, DType.BF16));

        WarmUp never = WarmUp.start(Kernels.scalar(), Arena.ofAuto().allocate(WarmUp.SCRATCH_BYTES), () -> { });
        assertFalse(never.await(), "scalar kernels have nothing to warm up");
        KernelPolicy.Switchover run = cold.withWarmUp(never).start(0, true);
        assertSame(Kernels.scalar(), run.worker(true).direct(Kernels.scalar(), DirectKernel.GRADIENT_MATCHING, DType.BF16));
        assertEquals("scalar", run.kernelsUsed());
        assertSame(KernelPolicy.vectorOnly(vector).withWarmUp(never).mode(), KernelPolicy.Mode.VECTOR);
    }
}
