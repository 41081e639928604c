package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.io.RealFiles;

class InspectValidateTest {
    @TempDir
    Path tmp;

    @Test
    void validateAcceptsFilesWrittenByOtherTools() {
        for (String f : RealFiles.NAMES) {
            Run r = Run.of("validate", RealFiles.path(f).toString());
            assertEquals(0, r.code(), r::toString);
            assertTrue(r.out().startsWith("OK "), r.out());
            assertEquals(1, r.out().strip().lines().count());
        }
        Run r = Run.of("validate", RealFiles.path("torch-small-with-metadata.safetensors").toString());
        assertTrue(r.out().contains("4 tensors"), r.out());
    }

    @Test
    void validateRejectsAMalformedFileWithOneLineNamingIt() throws IOException {
        byte[] good = Files.readAllBytes(RealFiles.path("python-safetensors-sample.safetensors"));
        Path truncated = tmp.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 3));
        Run r = Run.of("validate", truncated.toString());
        assertEquals(ExitCodes.INVALID_INPUT, r.code(), r::toString);
        assertTrue(r.errLine().contains("truncated.safetensors"), r.err());
        assertEquals("", r.out());

        Path missing = tmp.resolve("absent");
        Run m = Run.of("validate", missing.toString());
        assertTrue(m.code() == ExitCodes.INVALID_INPUT || m.code() == ExitCodes.IO, m::toString);
        assertTrue(m.errLine().contains("absent"), m.err());
    }

    @Test
    void inspectListsTensorsTotalsAndMetadata() {
        Run r = Run.of("inspect", RealFiles.path("torch-small-with-metadata.safetensors").toString());
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("fc1.weight") && r.out().contains("[20, 10]") && r.out().contains("800"), r.out());
        // 20 + 200 + 10 + 200 F32 elements = 1720 bytes
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("F32") && l.contains(" 4 tensors") && l.contains("1720 bytes")), r.out());
        assertTrue(r.out().contains("version: 1.0") && r.out().contains("git_tag: v1.45"), r.out());
    }

    @Test
    void inspectJsonIsMachineReadable() throws IOException {
        Run r = Run.of("inspect", "--json", RealFiles.path("python-safetensors-sample.safetensors").toString());
        assertEquals(0, r.code(), r::toString);
        List<String> names = new ArrayList<>();
        List<String> dtypes = new ArrayList<>();
        long totalBytes = -1;
        try (JsonParser p = new JsonFactory().createParser(r.out())) {
            String field = null;
            int depth = 0;
            String section = null;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                switch (t) {
                    case START_OBJECT, START_ARRAY -> {
                        depth++;
                        if (depth == 2) {
                            section = field;
                        }
                    }
                    case END_OBJECT, END_ARRAY -> depth--;
                    case FIELD_NAME -> field = p.currentName();
                    case VALUE_STRING -> {
                        if ("tensors".equals(section) && "name".equals(field)) {
                            names.add(p.getText());
                        } else if ("tensors".equals(section) && "dtype".equals(field)) {
                            dtypes.add(p.getText());
                        }
                    }
                    case VALUE_NUMBER_INT -> {
                        if ("totals".equals(section) && "bytes".equals(field)) {
                            totalBytes = p.getLongValue();
                        }
                    }
                    default -> { }
                }
            }
        }
        assertEquals(List.of("some_ints", "some_floats"), names);
        assertEquals(List.of("I64", "F32"), dtypes);
        assertEquals(48, totalBytes);
    }

    @Test
    void versionAndHelpTellTheTruth() {
        Run v = Run.of("--version");
        assertEquals(0, v.code());
        assertTrue(v.out().startsWith("ugm "), v.out());
        Run h = Run.of("merge", "--help");
        assertEquals(0, h.code());
        for (String opt : new String[] {"--method", "--base", "--model", "--weight", "--fisher", "--base-fisher", "--fisher-scale",
                "--base-fisher-scale", "--lambda", "--delta0", "--remove", "--out-dtype", "--shard-size", "--threads", "--force",
                "--quiet", "--out", "Exit codes"}) {
            assertTrue(h.out().contains(opt), "merge --help lacks " + opt);
        }
        // the commands are built only when asked for: help, help COMMAND and a typo still see them all
        Run all = Run.of("--help");
        assertEquals(0, all.code());
        for (String command : new String[] {"merge", "demo", "convert", "inspect", "validate", "family", "help"}) {
            assertTrue(all.out().contains("\n  " + command + " "), "ugm --help lacks " + command + ":\n" + all.out());
        }
        Run helpMerge = Run.of("help", "merge");
        assertEquals(0, helpMerge.code());
        assertTrue(helpMerge.out().contains("--base-fisher"), helpMerge.out());
        Run typo = Run.of("merg");
        assertEquals(ExitCodes.USAGE, typo.code());
        assertTrue(typo.err().contains("merge"), typo.err()); // picocli suggests the command
        Run none = Run.of();
        assertEquals(ExitCodes.USAGE, none.code());
        Run bad = Run.of("inspect", "--bogus", "x");
        assertEquals(ExitCodes.USAGE, bad.code());
        assertTrue(bad.err().contains("--bogus"), bad.err());
    }
}
