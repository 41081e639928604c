package ugm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class PrintableTest {

    @Test
    void terminalControlsAreShownEscaped() {
        assertEquals("a\\x1b[31mred", Printable.of("a\u001b[31mred"));
        assertEquals("\\x07\\x0d\\x0a\\x09\\x00\\x7f", Printable.of("\u0007\r\n\t\u0000\u007f"));
        assertEquals("\\u0080\\u0085\\u009b\\u009f", Printable.of("\u0080\u0085\u009b\u009f"));
    }

    @Test
    void printableUnicodeIsKeptAsIs() {
        String s = "layers.0.wq \u00e9\u00a0\u4e2d\uD83D\uDE00 \"'\\ ~";
        assertSame(s, Printable.of(s));
        assertEquals("null", Printable.of(null));
    }

    @Test
    void unpairedSurrogatesAreShownEscapedAndPairsKept() {
        assertEquals("a\\ud800b", Printable.of("a\uD800b"));
        assertEquals("\\udc00", Printable.of("\uDC00"));
        assertEquals("x\\ud83d", Printable.of("x\uD83D"));
        assertEquals("\uD83D\uDE00\\ude00", Printable.of("\uD83D\uDE00\uDE00"));
    }

    @Test
    void escapingTwiceChangesNothingMore() {
        String once = Printable.of("a\u001b\u0085\uD800\n");
        assertEquals(once, Printable.of(once));
    }
}
