package ugm.io;

import java.nio.file.Path;
import java.util.Map;
import ugm.core.TensorSource;

/**
 * One mapped file of a checkpoint: a safetensors file ({@link SafetensorsFile}) or the state dict
 * of a {@code torch.save} file ({@link TorchStateDict}). Tensor data are zero-copy slices of the
 * file's mapping, valid until {@link #close()}.
 *
 * <p>Implementations allow concurrent reads; closing must not race them.
 */
public interface CheckpointFile extends TensorSource, AutoCloseable {

    /** The file. */
    Path path();

    /** What the file is: {@value Checkpoint#SAFETENSORS} or {@value Checkpoint#PYTORCH}. */
    String format();

    /** The file's own metadata ({@code __metadata__} of a safetensors file); empty when it has none. */
    Map<String, String> metadata();

    /** Whether the file on disk is no longer the one opened (see {@link SafetensorsFile#changedOnDisk()}). */
    boolean changedOnDisk();

    /** Unmaps the file; segments handed out become inaccessible. Idempotent. */
    @Override
    void close();
}
