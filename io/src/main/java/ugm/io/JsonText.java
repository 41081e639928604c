package ugm.io;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import ugm.core.Printable;

/** JSON string literals written exactly as two reference writers do. */
final class JsonText {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonText() {
    }

    /**
     * As Rust's serde_json: escapes {@code "}, {@code \}, and control characters (short forms
     * for \b \f \n \r \t, backslash-u00xx for the rest); everything else, non-ASCII included, raw.
     */
    static void appendSerde(StringBuilder sb, String s) {
        appendQuoted(sb, s, false);
    }

    /**
     * As Python's {@code json.dumps} with its default {@code ensure_ascii=True}: the short escapes
     * above, and backslash-uxxxx (UTF-16 units) for every other character outside space..tilde.
     */
    static void appendPython(StringBuilder sb, String s) {
        appendQuoted(sb, s, true);
    }

    private static void appendQuoted(StringBuilder sb, String s, boolean asciiOnly) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || (asciiOnly && c > 0x7E)) {
                        appendUnicodeEscape(sb, c);
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    private static void appendUnicodeEscape(StringBuilder sb, char c) {
        sb.append("\\u").append(HEX[c >> 12 & 0xF]).append(HEX[c >> 8 & 0xF]).append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
    }

    /** Strict UTF-8: a string with an unpaired surrogate has no encoding and is refused. */
    static byte[] utf8(CharSequence s) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("text with an unpaired surrogate cannot be written as UTF-8: "
                    + Printable.of(s.length() > 80 ? s.subSequence(0, 80) + "..." : s.toString()));
        }
    }

    /**
     * Where {@code s} holds half of a surrogate pair (a JSON backslash-u escape can spell one),
     * or -1 when it is Unicode text. Such a string has no UTF-8 form; the reference parser
     * (serde_json) refuses it.
     */
    static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    /** The problem with {@code s}, when {@link #unpairedSurrogate} finds one: "holds an unpaired surrogate (\ud800)". */
    static String surrogateProblem(String s, int at) {
        StringBuilder sb = new StringBuilder("holds an unpaired surrogate (");
        appendUnicodeEscape(sb, s.charAt(at));
        return sb.append("), which is not Unicode text").toString();
    }

    /** Orders strings by code point, which is also the byte-wise order of their UTF-8. */
    static final Comparator<String> CODE_POINT_ORDER = (a, b) -> {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    };
}
