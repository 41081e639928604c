package ugm.io;

import ugm.core.UgmException;

/**
 * A safetensors file or checkpoint folder that breaks a rule of the format. The message is one
 * line: {@code <file>: tensor '<name>': <what is wrong>}, without the tensor part when no tensor
 * is involved.
 */
public final class SafetensorsException extends UgmException {

    private static final long serialVersionUID = 1L;

    /** The rule a file or folder broke. */
    public enum Rule {
        // One file (rules 1-8 of docs/safetensors.md, "Rules a reader enforces").
        FILE_TOO_SHORT, HEADER_TOO_LARGE, HEADER_PAST_END, BAD_UTF8, BAD_JSON, NOT_OBJECT,
        DUPLICATE_KEY, MISSING_FIELD, BAD_DTYPE, BAD_SHAPE, BAD_OFFSETS, SIZE_MISMATCH,
        GAP_OR_OVERLAP, TRAILING_BYTES, TRUNCATED, DUPLICATE_NAME, BAD_METADATA,
        // A checkpoint folder (docs/safetensors.md, "Checkpoint folders").
        NO_CHECKPOINT, BAD_INDEX, MISSING_SHARD, SHARD_OUTSIDE_FOLDER, NOT_IN_SHARD, NOT_IN_INDEX,
        DUPLICATE_ACROSS_SHARDS
    }

    private final String file;
    private final String tensor;
    private final Rule rule;

    public SafetensorsException(Rule rule, String file, String tensor, String problem) {
        super(Kind.INVALID_INPUT, Messages.of(file, tensor, problem));
        this.rule = rule;
        this.file = file;
        this.tensor = tensor;
    }

    public SafetensorsException(Rule rule, String file, String problem) {
        this(rule, file, null, problem);
    }

    public Rule rule() {
        return rule;
    }

    /** The file (or folder) at fault, as named in the message. */
    public String file() {
        return file;
    }

    /** The tensor at fault, or null when the problem is not about one tensor. */
    public String tensor() {
        return tensor;
    }
}
