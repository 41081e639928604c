package ugm.io;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import ugm.core.Printable;
import ugm.core.UgmException;

/** One-line error messages that name a file and, optionally, a tensor; controls shown escaped ({@link Printable}). */
final class Messages {

    private Messages() {
    }

    static String of(String file, String tensor, String problem) {
        StringBuilder sb = new StringBuilder(Printable.of(file)).append(": ");
        if (tensor != null) {
            sb.append("tensor '").append(Printable.of(tensor)).append("': ");
        }
        return sb.append(Printable.of(problem)).toString();
    }

    /**
     * A real input/output failure on {@code file}, as a {@link UgmException.Kind#IO} error. A
     * mapping refused by the system ({@code FileChannel.map} fails with an {@link OutOfMemoryError}
     * as its cause) says which limits to look at: every input file is mapped for the whole merge.
     */
    static UgmException io(Path file, String doing, IOException e) {
        String why = e instanceof NoSuchFileException ? "no such file or folder"
                : e.getCause() instanceof OutOfMemoryError ? "cannot map the file: out of address space or of mappings"
                        + " (ulimit -v; vm.max_map_count, one mapping per input file)"
                : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new UgmException(UgmException.Kind.IO, of(file.toString(), null, doing + ": " + why), e);
    }
}
