package ugm.io;

import java.nio.file.Path;

/**
 * A LoRA adapter that cannot be applied to its base: a missing or invalid {@code adapter_config.json},
 * a tensor that matches no base tensor, shapes that do not fit, or a kind of adapter ugm does not apply.
 */
public final class AdapterException extends InputFileException {
    private static final long serialVersionUID = 1L;

    AdapterException(Path file, String tensor, String problem) {
        super(file.toString(), tensor, problem);
    }
}
