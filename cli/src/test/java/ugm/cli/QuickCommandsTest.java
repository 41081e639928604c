package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.io.RealFiles;

/** The quick commands skip start-up work they do not need, and say the same as before. */
class QuickCommandsTest {

    @TempDir
    Path tmp;

    @Test
    void versionPrintsWhatPicocliPrintsForIt() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), "--version").execute("--version");
        assertEquals(ExitCodes.OK, code);
        for (String flag : new String[] {"--version", "-V"}) {
            Run r = Run.of(flag);
            assertEquals(ExitCodes.OK, r.code(), r::toString);
            assertEquals(out.toString(), r.out(), flag);
            assertEquals("", r.err(), flag);
        }
    }

    @Test
    void theTerminalIsAskedOnlyWhenProgressIsShown() {
        AtomicInteger asked = new AtomicInteger();
        BooleanSupplier terminal = () -> {
            asked.incrementAndGet();
            return false;
        };
        PrintWriter lines = new PrintWriter(new StringWriter());
        try (Progress p = Progress.start("merge", 10, 20, 1, lines, true, terminal)) {
            p.written(10);
        }
        assertEquals(0, asked.get(), "quiet: not asked");
        try (Progress p = Progress.start("merge", 10, 20, 1, lines, false, terminal)) {
            p.written(10);
        }
        assertEquals(1, asked.get());
    }

    @Test
    void commandsWithoutProgressNeverAskForTheTerminal() {
        BooleanSupplier before = Cli.stderrIsTerminal;
        AtomicInteger asked = new AtomicInteger();
        Cli.stderrIsTerminal = () -> {
            asked.incrementAndGet();
            return false;
        };
        try {
            String file = RealFiles.path("torch-small-with-metadata.safetensors").toString();
            assertEquals(ExitCodes.OK, Run.of("--version").code());
            assertEquals(ExitCodes.OK, Run.of("inspect", file).code());
            assertEquals(ExitCodes.OK, Run.of("validate", file).code());
            assertEquals(ExitCodes.OK, Run.of("convert", file, tmp.resolve("quiet").toString(), "--quiet").code());
            assertEquals(0, asked.get());
            assertEquals(ExitCodes.OK, Run.of("convert", file, tmp.resolve("shown").toString()).code());
            assertEquals(1, asked.get(), "a convert that shows progress asks once");
        } finally {
            Cli.stderrIsTerminal = before;
        }
    }

    /** The same command line through picocli, as every form but the plain ones goes. */
    private static Run viaPicocli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), args).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static Integer quick(String... args) {
        return QuickCommands.run(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()), args);
    }

    @Test
    void plainInspectAndValidateSayWhatPicocliSays() throws IOException {
        Path bad = tmp.resolve("bad.safetensors");
        Files.write(bad, "garbage".getBytes(StandardCharsets.UTF_8));
        for (String p : List.of(RealFiles.path("torch-small-with-metadata.safetensors").toString(),
                RealFiles.path("python-safetensors-sample.safetensors").toString(), tmp.resolve("missing").toString(),
                bad.toString())) {
            for (String[] args : new String[][] {{"inspect", p}, {"inspect", "--json", p}, {"inspect", p, "--json"},
                    {"inspect", "--verbose", p}, {"inspect", p, "--json", "--verbose"}, {"validate", p},
                    {"validate", p, "--verbose"}}) {
                String line = String.join(" ", args);
                assertNotNull(quick(args), "a plain form: " + line);
                Run direct = Run.of(args);
                Run picocli = viaPicocli(args);
                assertEquals(picocli.code(), direct.code(), line);
                assertEquals(picocli.out(), direct.out(), line);
                if (List.of(args).contains("--verbose")) {
                    // the stack trace's frames differ; its first line and its presence do not
                    assertEquals(picocli.err().lines().findFirst(), direct.err().lines().findFirst(), line);
                    assertEquals(picocli.err().lines().count() > 1, direct.err().lines().count() > 1, line);
                } else {
                    assertEquals(picocli.err(), direct.err(), line);
                }
            }
        }
    }

    @Test
    void everyOtherFormGoesToPicocli() {
        String p = RealFiles.path("torch-small-with-metadata.safetensors").toString();
        for (String[] args : new String[][] {{"inspect"}, {"inspect", "--json"}, {"inspect", "--help"}, {"inspect", p, "-h"},
                {"inspect", p, "--version"}, {"inspect", p, p}, {"inspect", "--json", "--json", p}, {"validate", "--json", p},
                {"inspect", "--bogus", p}, {"inspect", "--json=true", p}, {"inspect", "--", p}, {"inspect", "@args.txt"},
                {"inspect", "-weird.safetensors"}, {"inspect", ""}, {"inspect", "a\0b"}, {"merge", p}, {"convert", p, "out"},
                {"help", "inspect"}, {"inspect", p, "--json", "--verbose", "--verbose"}}) {
            assertNull(quick(args), String.join(" ", args));
        }
    }

    @Test
    void inspectRowsAreWhatStringFormatPrints() {
        String[][] rows = {{"name", "dtype", "shape", "bytes"}, {"w", "F32", "[2, 2]", "16"}, {"", "BOOL", "[]", "0"},
                {"x".repeat(90), "F8_E4M3FNUZ", "[1, 2, 3, 4, 5, 6, 7, 8, 9]", "1234567890123456"}};
        for (int width : new int[] {4, 30, 80}) {
            for (String[] r : rows) {
                StringBuilder sb = new StringBuilder();
                InspectCommand.row(sb, width, r[0], r[1], r[2], r[3]);
                assertEquals(String.format(Locale.ROOT, "%-" + width + "s  %-11s  %-20s  %12s%n", (Object[]) r), sb.toString());
            }
        }
        assertTrue(Run.of("inspect", RealFiles.path("tinygrad-mnist-mlp.safetensors").toString()).out()
                .startsWith(String.format(Locale.ROOT, "%-9s  %-11s  %-20s  %12s%n", "name", "dtype", "shape", "bytes")));
    }

    @Test
    void plainFormatsAreWhatLocaleRootFormats() {
        Object[][] cases = {{"%.2f %s", 775.425, "kB"}, {"%.2f %s", 1.005, "MB"}, {"%.2f %s", 999.995, "GB"},
                {"%.2f %s", -0.0, "B"}, {"%-11s %6d tensors %16d elements %16d bytes%n", "BF16", 12L, -387520L, Long.MAX_VALUE},
                {"OK %s: %d tensors, %s in %d file(s)%n", "/tmp/x y", 3, "1.23 kB", 1}};
        for (Object[] c : cases) {
            Object[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            assertEquals(String.format(Locale.ROOT, (String) c[0], args), Plain.format((String) c[0], args));
        }
        for (long bytes : new long[] {0, 999, 1000, 1005, 775_425, 999_995, 1_234_567_890_123L, Long.MAX_VALUE / 2}) {
            assertTrue(Sizes.format(bytes).matches("\\d+( B|\\.\\d\\d [kMGT]B)"), Sizes.format(bytes));
        }
    }
}
