package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import ugm.core.merge.methods.Method;

/**
 * Merges running at once in one JVM through the library API do not interfere: each gets exactly
 * the bytes it gets alone. Two families, and two merges of one shared family (its sources read
 * by both), with several workers each.
 */
class ConcurrentMergesTest {

    record Job(String name, MergeRequest request) {
    }

    @Test
    void simultaneousMergesGiveTheBytesEachGivesAlone() throws Exception {
        MergerTest.Family a = new MergerTest.Family(101, 3, false);
        MergerTest.Family b = new MergerTest.Family(202, 2, false);
        List<Job> jobs = List.of(
                new Job("a gradient matching", a.request(Method.GRADIENT_MATCHING, true).threads(2).chunkElements(256).build()),
                new Job("b fisher", b.request(Method.FISHER, false).threads(2).chunkElements(512).build()),
                new Job("a task arithmetic", a.request(Method.TASK_ARITHMETIC, false).threads(3).build()),
                new Job("a removal", a.request(Method.GRADIENT_MATCHING, true).remove(true).threads(2).chunkElements(128).build()));
        List<Map<String, MemorySegment>> alone = jobs.stream().map(j -> MergerTest.run(j.request(), null)).toList();

        ExecutorService pool = Executors.newFixedThreadPool(jobs.size());
        try {
            for (int round = 0; round < 3; round++) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Map<String, MemorySegment>>> results = jobs.stream().map(j -> pool.submit(() -> {
                    go.await();
                    return MergerTest.run(j.request(), null);
                })).toList();
                go.countDown();
                for (int i = 0; i < jobs.size(); i++) {
                    Map<String, MemorySegment> got = results.get(i).get();
                    assertEquals(alone.get(i).keySet(), got.keySet());
                    for (Map.Entry<String, MemorySegment> e : alone.get(i).entrySet()) {
                        assertEquals(-1, e.getValue().mismatch(got.get(e.getKey())),
                                jobs.get(i).name() + ", round " + round + ": tensor " + e.getKey() + " differs from the merge alone");
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
