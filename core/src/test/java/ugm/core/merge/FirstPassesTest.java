package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.kernel.Kernels;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * First passes ({@link MergeMethod#firstPass()}) run on every worker: one that reaches a tensor
 * whose pass another worker is running prepares the next tensors nobody has started instead of
 * waiting idle, and every tensor's pass still runs exactly once, whoever runs it.
 */
class FirstPassesTest {

    /** A method with a first pass that records who ran it, per tensor, and holds tensor "t0x0"'s until released. */
    static final class Recording implements MergeMethod {
        final Map<String, String> ranBy = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch firstStarted = new CountDownLatch(1);

        @Override
        public String id() {
            return "recording";
        }

        @Override
        public String summary() {
            return "the first model, after a first pass that records its thread";
        }

        @Override
        public Set<Parameter> parameters() {
            return EnumSet.of(Parameter.WEIGHT);
        }

        @Override
        public boolean needsBase() {
            return false;
        }

        @Override
        public boolean needsFishers() {
            return false;
        }

        @Override
        public boolean firstPass() {
            return true;
        }

        @Override
        public TensorMerge prepare(MergeRequest r, TensorPlan t) {
            String name = t.output().name();
            ranBy.put(name, Thread.currentThread().getName());
            runs.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
            if (name.equals(first())) {
                firstStarted.countDown();
                try {
                    assertTrue(release.await(30, TimeUnit.SECONDS), "the test never released the first pass");
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            return (Kernels k, long from, int n, float[] base, float[][] models, float[][] fishers, float[] baseFisher,
                    float[] out) -> {
                System.arraycopy(models[0], 0, out, 0, n);
                return 0;
            };
        }
    }

    static String first() {
        return TaskFamily.name(new long[] {0});
    }

    @Test
    void aWorkerWaitingForAPassPreparesTheNextTensorsEachOnce() throws Exception {
        long[][] shapes = new long[12][];
        for (int i = 0; i < shapes.length; i++) {
            shapes[i] = new long[] {i, 3}; // (names t0x3, t1x3, ...: file order is this order)
        }
        shapes[0] = new long[] {0};
        TaskFamily f = TaskFamily.of(1, 1, DType.F32, shapes);
        Recording method = new Recording();
        MergeRequest r = MergeRequest.builder(method).model(f.models()[0]).threads(2).build();
        List<TensorPlan> tensors = MergePlan.of(r).requireValid().tensors();
        assertEquals(first(), tensors.get(0).output().name(), "the held tensor comes first");
        TensorMerges merges = new TensorMerges(r, tensors);

        ExecutorService pool = Executors.newFixedThreadPool(2, run -> new Thread(run, "worker-" + run.hashCode()));
        try {
            Future<TensorMerge> a = pool.submit(() -> merges.of(0, tensors.get(0), Kernels.scalar()));
            assertTrue(method.firstStarted.await(30, TimeUnit.SECONDS));
            Future<TensorMerge> b = pool.submit(() -> merges.of(0, tensors.get(0), Kernels.scalar()));
            // b cannot have tensor 0's merge before its pass is released: meanwhile it prepares the next ones
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (method.runs.size() < 1 + TensorMerges.AHEAD && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            Thread.sleep(50); // (time to run a pass too many, were it to)
            assertEquals(1 + TensorMerges.AHEAD, method.runs.size(), "passes run while the first is held");
            String waiter = method.ranBy.get(tensors.get(1).output().name());
            for (int i = 1; i <= TensorMerges.AHEAD; i++) {
                assertEquals(waiter, method.ranBy.get(tensors.get(i).output().name()), "tensor " + i + " prepared by the waiting worker");
            }
            assertTrue(!waiter.equals(method.ranBy.get(first())), "the waiting worker is not the one running the first pass");
            method.release.countDown();
            assertSame(a.get(30, TimeUnit.SECONDS), b.get(30, TimeUnit.SECONDS), "one merge for tensor 0, shared");
            // the workers reach the tensors prepared ahead: nothing runs again
            for (int i = 1; i < tensors.size(); i++) {
                int ti = i;
                TensorMerge x = pool.submit(() -> merges.of(ti, tensors.get(ti), Kernels.scalar())).get(30, TimeUnit.SECONDS);
                TensorMerge y = pool.submit(() -> merges.of(ti, tensors.get(ti), Kernels.scalar())).get(30, TimeUnit.SECONDS);
                assertSame(x, y, "tensor " + i);
            }
            for (TensorPlan t : tensors) {
                assertEquals(1, method.runs.get(t.output().name()).get(), t.output().name() + "'s pass ran once");
            }
        } finally {
            method.release.countDown();
            pool.shutdownNow();
        }
    }
}
