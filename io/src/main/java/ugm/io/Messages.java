package ugm.io;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import ugm.core.UgmException;

/** One-line error messages that name a file and, optionally, a tensor. */
final class Messages {

    private Messages() {
    }

    static String of(String file, String tensor, String problem) {
        StringBuilder sb = new StringBuilder(oneLine(file)).append(": ");
        if (tensor != null) {
            sb.append("tensor '").append(oneLine(tensor)).append("': ");
        }
        return sb.append(oneLine(problem)).toString();
    }

    /** Control characters (newlines included) shown escaped, so a message stays on one line. */
    static String oneLine(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7F) {
                if (sb == null) {
                    sb = new StringBuilder(s.length() + 8).append(s, 0, i);
                }
                sb.append(String.format("\\u%04x", (int) c));
            } else if (sb != null) {
                sb.append(c);
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** A real input/output failure on {@code file}, as a {@link UgmException.Kind#IO} error. */
    static UgmException io(Path file, String doing, IOException e) {
        String why = e instanceof NoSuchFileException ? "no such file or folder"
                : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new UgmException(UgmException.Kind.IO, of(file.toString(), null, doing + ": " + why), e);
    }
}
