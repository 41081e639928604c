package ugm.demo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import ugm.core.exec.ChunkExecutor;
import ugm.core.DType;
import ugm.core.merge.MergeReport;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.Merger;
import ugm.core.merge.methods.Method;
import ugm.io.SafetensorsFile;
import ugm.io.SafetensorsWriter;

/**
 * Merges model folders through the real engine: every input is a mapped safetensors file, the
 * output is written with the safetensors writer. Weights are 1 per model; λ scales them.
 *
 * @param base            the base model's folder (its Fisher in {@code fisherFolder} beside it)
 * @param models          the fine-tuned models' folders
 * @param fisherFolder    which subfolder holds the Fishers ({@code hessian} by default)
 * @param fisherScales    s_t: per-model Fisher scales (the task data sizes)
 * @param baseFisherScale s0 (the pretraining data size)
 * @param delta0          δ0
 * @param executor        what runs the merges (the command line's kernels and warm-up)
 */
record EngineMerge(Path base, List<Path> models, String fisherFolder, float[] fisherScales, float baseFisherScale,
                   float delta0, ChunkExecutor executor) {

    EngineMerge {
        models = List.copyOf(models);
        fisherScales = fisherScales.clone();
    }

    /** The same merge with a different Fisher subfolder. */
    EngineMerge withFisherFolder(String folder) {
        return new EngineMerge(base, models, folder, fisherScales, baseFisherScale, delta0, executor);
    }

    /** The same merge over a subset of the models (given by index). */
    EngineMerge only(int... indices) {
        List<Path> m = new ArrayList<>();
        float[] s = new float[indices.length];
        for (int i = 0; i < indices.length; i++) {
            m.add(models.get(indices[i]));
            s[i] = fisherScales[indices[i]];
        }
        return new EngineMerge(base, m, fisherFolder, s, baseFisherScale, delta0, executor);
    }

    /**
     * Runs {@code method} with factor {@code lambda} (negating the models when {@code remove}) into
     * the file {@code out}, creating its folder.
     */
    MergeReport run(Method method, float lambda, boolean remove, Path out) {
        Checkpoints.createFolderOf(out);
        List<SafetensorsFile> open = new ArrayList<>();
        try {
            SafetensorsFile baseFile = opened(open, Checkpoints.model(base));
            MergeRequest.Builder b = MergeRequest.builder(method).base(baseFile).lambda(lambda).remove(remove)
                    .delta0(delta0).fisherScales(fisherScales).baseFisherScale(baseFisherScale)
                    .outDtype(DType.F32).threads(1);
            for (Path m : models) {
                b.model(opened(open, Checkpoints.model(m)));
                if (method.needsFishers()) {
                    b.fisher(opened(open, Checkpoints.fisher(m, fisherFolder)));
                }
            }
            if (method.needsFishers()) {
                b.baseFisher(opened(open, Checkpoints.fisher(base, fisherFolder)));
            }
            try (SafetensorsWriter w = SafetensorsWriter.create(out, baseFile.tensors(),
                    Map.of("format", "pt", "merge_method", method.id(), "lambda", Float.toString(lambda),
                            "remove", Boolean.toString(remove)))) {
                MergeReport report = Merger.merge(b.build(), w, executor);
                w.commit();
                return report;
            }
        } finally {
            for (SafetensorsFile f : open) {
                f.close();
            }
        }
    }

    private static SafetensorsFile opened(List<SafetensorsFile> open, Path file) {
        SafetensorsFile f = SafetensorsFile.open(file);
        open.add(f);
        return f;
    }
}
