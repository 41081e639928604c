package ugm.io;

/**
 * A {@code torch.save} file that ugm refuses: a broken or unexpected zip container, a pickle that
 * is malformed or names code ugm does not run, or a tensor that does not fit its storage. The
 * message is one line: {@code <file>: tensor '<name>': <what is wrong>}, without the tensor part
 * when no tensor is involved.
 *
 * <p>Immutable once thrown, like any exception.
 */
public final class TorchException extends InputFileException {

    private static final long serialVersionUID = 1L;

    /** The rule the file broke. */
    public enum Rule {
        /** Not a zip: a legacy (pre-1.6) torch.save file, a TorchScript archive, or no torch file at all. */
        NOT_TORCH_ZIP,
        /** The zip's end record, central directory or a local header is missing, inconsistent or out of the file. */
        BAD_ZIP,
        /** An entry ugm must read is compressed or encrypted; torch.save stores its entries as they are. */
        NOT_STORED,
        /** {@code data.pkl} is missing, or there is no single archive folder. */
        BAD_LAYOUT,
        /** The {@code byteorder} entry is not {@code little}. */
        BYTE_ORDER,
        /** The pickle is malformed: bad opcode, truncated, stack underflow, memo reference out of range, ... */
        BAD_PICKLE,
        /** The pickle names a global that is not on the allow-list of data types. */
        FORBIDDEN_GLOBAL,
        /** The pickle nests deeper, or builds more objects, than ugm reads. */
        TOO_LARGE,
        /** A storage reference is malformed, names a missing entry, or disagrees with its entry's size. */
        BAD_STORAGE,
        /** A tensor's dtype, shape, stride or offset is malformed or has no safetensors equivalent. */
        BAD_TENSOR,
        /** A tensor reaches past the end of its storage. */
        STORAGE_TOO_SHORT,
        /** A tensor is a non-contiguous view of its storage. */
        NON_CONTIGUOUS,
        /** The file holds something other than a state dict (names to tensors) where one is needed. */
        NOT_STATE_DICT
    }

    /** The rule of the format that the file breaks. */
    private final Rule rule;

    /** An invalid-input error: {@code file} breaks {@code rule} at {@code tensor} (null: in no one tensor); {@code problem} says how. */
    public TorchException(Rule rule, String file, String tensor, String problem) {
        super(file, tensor, problem);
        this.rule = rule;
    }

    /** An invalid-input error: {@code file} breaks {@code rule}; {@code problem} says how. */
    public TorchException(Rule rule, String file, String problem) {
        this(rule, file, null, problem);
    }

    /** The rule of the format that the file breaks. */
    public Rule rule() {
        return rule;
    }
}
