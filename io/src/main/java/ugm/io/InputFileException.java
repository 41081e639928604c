package ugm.io;

import ugm.core.UgmException;

/**
 * A file that breaks a rule of its format: an invalid-input error whose one-line message names
 * the file and, where there is one, the tensor. The subclasses say which rule.
 *
 * <p>Immutable once thrown, like any exception.
 */
public abstract class InputFileException extends UgmException {
    private static final long serialVersionUID = 1L;

    /** The file the problem is in. */
    private final String file;
    /** The tensor the problem is in; null when it is in no one tensor. */
    private final String tensor;

    InputFileException(String file, String tensor, String problem) {
        super(Kind.INVALID_INPUT, Messages.of(file, tensor, problem));
        this.file = file;
        this.tensor = tensor;
    }

    /** The file (or folder) at fault, as named in the message. */
    public String file() {
        return file;
    }

    /** The tensor at fault (its name, or its path in a pickled value), or null when the problem is not about one tensor. */
    public String tensor() {
        return tensor;
    }
}
