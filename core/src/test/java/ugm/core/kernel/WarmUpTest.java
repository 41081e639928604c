package ugm.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.foreign.Arena;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import ugm.core.DType;

/** The warm-up compiles the BF16 direct vector kernel and says so only once it beats the scalar twin. */
class WarmUpTest {

    @Test
    void declaresTheBf16DirectKernelHotOnlyOnceItIsFasterThanTheScalarTwin() throws Exception {
        assumeFalse(Kernels.get() instanceof ScalarKernels, "no vector kernels in this JVM");
        assertThrows(IllegalArgumentException.class, () -> WarmUp.start(Arena.ofAuto().allocate(16), () -> { }));
        CountDownLatch done = new CountDownLatch(1);
        Arena arena = Arena.ofShared();
        WarmUp.start(arena.allocate(WarmUp.SCRATCH_BYTES, 64), done::countDown);
        assertTrue(WarmUp.started());
        assertTrue(done.await(60, TimeUnit.SECONDS), "the warm-up ended");
        assertTrue(WarmUp.hot(DType.BF16));
        assertFalse(WarmUp.hot(DType.F32)); // only BF16 is warmed up
        arena.close();

        // a second start does nothing but report that it is done
        AtomicInteger calls = new AtomicInteger();
        WarmUp.start(Arena.ofAuto().allocate(WarmUp.SCRATCH_BYTES, 64), calls::incrementAndGet);
        assertEquals(1, calls.get());
    }
}
