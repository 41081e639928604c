package ugm.core;

/**
 * Text from a file (a tensor name, a metadata key or value, a path) made safe to show a person on
 * a terminal: every character a terminal could act on is shown as an escape, so a hostile name
 * can neither move the cursor, change colours nor break a message over several lines. Messages,
 * warnings and tables all go through {@link #of}; machine-readable output (JSON) keeps the exact
 * strings instead.
 *
 * <ul>
 *   <li>C0 controls (U+0000..U+001F, newline and tab included) and DEL: {@code \xNN}, e.g. {@code \x1b}</li>
 *   <li>C1 controls (U+0080..U+009F): <code>&#92;u00NN</code>, e.g. <code>&#92;u0085</code></li>
 *   <li>an unpaired surrogate, which has no UTF-8 form: <code>&#92;uXXXX</code>, e.g. <code>&#92;ud800</code></li>
 *   <li>everything else, printable Unicode of any script included, as it is</li>
 * </ul>
 *
 * Backslashes are not escaped, so the result of {@code of} is left unchanged by a second call.
 *
 * <p>Stateless: safe to use from any thread.
 */
public final class Printable {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Printable() {
    }

    /** {@code s} with its control characters and unpaired surrogates escaped; {@code "null"} for null. */
    public static String of(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            if (pair) {
                if (sb != null) {
                    sb.append(c).append(s.charAt(i + 1));
                }
                i++;
                continue;
            }
            boolean control = c < 0x20 || c == 0x7F;
            boolean escape = control || (c >= 0x80 && c <= 0x9F) || Character.isSurrogate(c);
            if (!escape) {
                if (sb != null) {
                    sb.append(c);
                }
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (control) {
                sb.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xF]);
            } else {
                sb.append("\\u").append(HEX[c >> 12]).append(HEX[c >> 8 & 0xF]).append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
            }
        }
        return sb == null ? s : sb.toString();
    }
}
