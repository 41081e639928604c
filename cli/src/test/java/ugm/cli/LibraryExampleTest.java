package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.exec.ChunkExecutor;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.WarmUp;
import ugm.core.merge.MergePlan;
import ugm.core.merge.MergeReport;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;
import ugm.io.Checkpoint;
import ugm.io.ShardedWriter;

/** The README's library example, as written there, gives what the CLI gives. */
class LibraryExampleTest {
    @TempDir
    Path tmp;

    @Test
    void theReadmeExampleMergesLikeTheCommandLine() {
        Path f = tmp.resolve("family");
        assertEquals(0, Run.of("family", f.toString(), "--size", "4MB", "--tasks", "2").code());
        String layer = "model.layers.0.self_attn.q_proj.weight";
        try (Checkpoint base = Checkpoint.open(f.resolve("base"));
             Checkpoint math = Checkpoint.open(f.resolve("task-1"));
             Checkpoint mathH = Checkpoint.open(f.resolve("task-1/hessian"));
             Checkpoint code = Checkpoint.open(f.resolve("task-2"));
             Checkpoint codeH = Checkpoint.open(f.resolve("task-2/hessian"))) {
            MergeRequest request = MergeRequest.builder(Method.GRADIENT_MATCHING)
                    .base(base).model(math).fisher(mathH).model(code).fisher(codeH)
                    .weights(1f, 0.5f).fisherScales(8530f, 25000f).build();

            MergePlan plan = MergePlan.of(request).requireValid();
            try (ShardedWriter out = ShardedWriter.create(tmp.resolve("merged"), plan.outputs(), Map.of("format", "pt"))) {
                MergeReport report = Merger.execute(plan, out, bytes -> { });
                out.commit();
                assertEquals(base.tensors().size(), report.tensors());
            }

            try (Arena arena = Arena.ofConfined()) {
                MemorySegment q = arena.allocate(base.info(layer).byteSize());
                Merger.mergeTensor(request, layer, q);
                try (Checkpoint merged = Checkpoint.open(tmp.resolve("merged"))) {
                    assertEquals(-1, q.mismatch(merged.data(layer)));
                }

                // A server: a warm-up started at boot, its own threads.
                MemorySegment scratch = Arena.ofAuto().allocate(WarmUp.SCRATCH_BYTES, 64);
                ThreadFactory myThreadFactory = Thread.ofVirtual().factory();
                WarmUp warmUp = WarmUp.start(Kernels.get(), scratch, () -> { });  // scratch: a small file mapping of WarmUp.SCRATCH_BYTES
                ChunkExecutor executor = ChunkExecutor.of(KernelPolicy.defaults().withWarmUp(warmUp)).withThreads(myThreadFactory);
                MemorySegment again = Arena.ofAuto().allocate(base.info(layer).byteSize());
                Merger.mergeTensor(request, layer, again, executor);   // BF16 merges run the compiled vector kernel once it is hot
                assertEquals(-1, q.mismatch(again));
            }
        }
        Path cli = tmp.resolve("cli");
        Run r = Run.of("merge", "--method", "gradient_matching", "--base", f.resolve("base").toString(),
                "--model", f.resolve("task-1").toString(), "--model", f.resolve("task-2").toString(),
                "--weight", "1", "--weight", "0.5", "--fisher-scale", "8530", "--fisher-scale", "25000",
                "--base-fisher", tmp.resolve("none").toString(), "--out", cli.toString());
        // --base-fisher pointing nowhere is an error: the CLI names it.
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("none"), r.err());
    }

    /** The README's config example through the library: the folder the command line writes, file for file, byte for byte. */
    @Test
    void aMergeJobWritesTheFolderTheCommandLineWrites() throws java.io.IOException {
        Path f = tmp.resolve("family");
        assertEquals(0, Run.of("family", f.toString(), "--size", "2MB", "--tasks", "2").code());
        java.nio.file.Files.writeString(f.resolve("base").resolve("tokenizer.json"), "{\"model\": {}}\n");
        Path config = tmp.resolve("merge.yml");
        java.nio.file.Files.writeString(config, "merge_method: gradient_matching\nbase_model: " + f.resolve("base")
                + "\nmodels:\n  - model: " + f.resolve("task-1") + "\n    parameters: {weight: 1, fisher_scale: 8530}\n  - model: "
                + f.resolve("task-2") + "\n    parameters: {weight: 0.5, fisher_scale: 25000}\nout_dtype: float32\n");

        Path merged = tmp.resolve("merged-by-the-library");
        try (ugm.job.MergeJob job = ugm.job.MergeJob.open(config, 0)) {
            job.writeTo(merged, ugm.job.MergeJob.Options.defaults(), ugm.core.merge.MergeProgress.NONE, ChunkExecutor.defaults());
        }

        Path cli = tmp.resolve("merged-by-the-cli");
        Run r = Run.of("merge", config.toString(), cli.toString(), "--quiet");
        assertEquals(0, r.code(), r::toString);
        java.util.List<String> names;
        try (var s = java.nio.file.Files.list(cli)) {
            names = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (var s = java.nio.file.Files.list(merged)) {
            assertEquals(names, s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertTrue(names.containsAll(java.util.List.of("model.safetensors", "config.json", "tokenizer.json", "ugm_config.yml", "README.md")),
                names::toString);
        for (String name : names) {
            assertEquals(-1, java.nio.file.Files.mismatch(cli.resolve(name), merged.resolve(name)), name);
        }
    }
}
