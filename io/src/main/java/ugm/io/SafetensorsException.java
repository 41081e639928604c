package ugm.io;

/**
 * A safetensors file or checkpoint folder that breaks a rule of the format. The message is one
 * line: {@code <file>: tensor '<name>': <what is wrong>}, without the tensor part when no tensor
 * is involved.
 *
 * <p>Immutable once thrown, like any exception.
 */
public final class SafetensorsException extends InputFileException {

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

    /** The rule of the format that the file breaks. */
    private final Rule rule;

    /** An invalid-input error: {@code file} breaks {@code rule} at {@code tensor} (null: in no one tensor); {@code problem} says how. */
    public SafetensorsException(Rule rule, String file, String tensor, String problem) {
        super(file, tensor, problem);
        this.rule = rule;
    }

    /** An invalid-input error: {@code file} breaks {@code rule}; {@code problem} says how. */
    public SafetensorsException(Rule rule, String file, String problem) {
        this(rule, file, null, problem);
    }

    /** The rule of the format that the file breaks. */
    public Rule rule() {
        return rule;
    }
}
