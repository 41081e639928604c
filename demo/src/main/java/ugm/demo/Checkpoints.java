package ugm.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsFile;
import ugm.io.SafetensorsWriter;

/**
 * Model folders as Hugging Face lays them out: {@code <folder>/model.safetensors}, and the
 * model's diagonal Fisher under {@code <folder>/hessian/model.safetensors} (or another subfolder).
 */
final class Checkpoints {
    static final String FILE = "model.safetensors";
    static final String HESSIAN = ugm.io.Checkpoint.FISHER_FOLDER;
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Checkpoints() {
    }

    static Path model(Path folder) {
        return folder.resolve(FILE);
    }

    static Path fisher(Path folder, String subfolder) {
        return folder.resolve(subfolder).resolve(FILE);
    }

    /** Writes {@code values} (rounded to float32) as the tensors of {@code layout} into {@code file}. */
    static void write(Path file, Layout layout, double[] values, String description) {
        if (values.length != layout.size()) {
            throw new IllegalArgumentException(values.length + " values for a layout of " + layout.size());
        }
        createFolderOf(file);
        try (SafetensorsWriter w = SafetensorsWriter.create(file, layout.infos(),
                Map.of("format", "pt", "ugm_demo", description))) {
            int at = 0;
            for (Layout.Tensor t : layout.tensors()) {
                MemorySegment seg = w.target(t.info());
                for (int i = 0; i < t.elements(); i++) {
                    seg.setAtIndex(F32_LE, i, (float) values[at++]);
                }
            }
            w.commit();
        }
    }

    static void createFolderOf(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the folder of " + file, e);
        }
    }

    /** Reads the tensors of {@code layout} from {@code file} (F32, shapes as laid out) into one vector. */
    static double[] read(Path file, Layout layout) {
        double[] values = new double[layout.size()];
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            int at = 0;
            for (Layout.Tensor t : layout.tensors()) {
                TensorInfo info = f.info(t.name());
                if (info == null || info.dtype() != DType.F32 || !info.equals(t.info())) {
                    throw new IllegalStateException(file + ": expected " + t.info() + ", found " + info);
                }
                MemorySegment seg = f.data(t.name());
                for (int i = 0; i < t.elements(); i++) {
                    values[at++] = seg.getAtIndex(F32_LE, i);
                }
            }
        }
        return values;
    }
}
