package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** The temporary and old names beside an output folder, whatever the target's name. */
class OutputFolderTest {

    @TempDir
    Path dir;

    static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Names of 1 to 255 bytes, ASCII and multi-byte (2, 3 and 4 bytes a character). */
    static String name(String kind) {
        return switch (kind) {
            case "short" -> "out";
            case "217" -> "m".repeat(217);
            case "218" -> "m".repeat(218);
            case "229" -> "model-".repeat(38) + "x";
            case "255" -> "a".repeat(255);
            case "e-acute-254" -> "\u00e9".repeat(127);
            case "cjk-255" -> "\u4e2d".repeat(85);
            case "emoji-252" -> "\uD83D\uDE00".repeat(63);
            case "mixed-255" -> "a".repeat(200) + "\uD83D\uDE00".repeat(13) + "\u00e9".repeat(1) + "b";
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static List<Path> besides(Path parent) throws IOException {
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> p.getFileName().toString().contains(".ugm-")).toList();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"short", "217", "218", "229", "255", "e-acute-254", "cjk-255", "emoji-252", "mixed-255"})
    void everyNameThatFitsCanBeWrittenAndReplaced(String kind) throws IOException {
        String name = name(kind);
        assertTrue(bytes(name) <= 255, kind);
        Path parent = Files.createDirectories(dir.resolve(kind));
        Path target = parent.resolve(name);
        for (int round = 0; round < 2; round++) { // the second replaces the first: the old name is used too
            try (OutputFolder f = OutputFolder.create(target, true)) {
                String temp = f.temp().getFileName().toString();
                assertTrue(bytes(temp) <= 255, temp);
                assertTrue(temp.startsWith("." + name.substring(0, Math.min(name.length(), 20))), temp);
                assertTrue(temp.contains(".ugm-tmp-" + ProcessHandle.current().pid() + "-"), temp);
                if (kind.equals("short")) {
                    assertTrue(temp.startsWith(".out.ugm-tmp-"), temp); // the usual names do not change
                }
                f.writeFile("round.txt", ("" + round).getBytes(StandardCharsets.UTF_8));
                f.publish();
            }
            assertEquals("" + round, Files.readString(target.resolve("round.txt")));
            assertEquals(List.of(), besides(parent));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"short", "229", "255", "emoji-252", "a[b]{c*?", "{unclosed"})
    void staleTemporariesOfDeadProcessesAreRemovedWhateverTheName(String kind) throws Exception {
        String name = kind.contains("[") || kind.contains("{") ? kind : name(kind);
        Path parent = Files.createDirectories(dir.resolve("stale"));
        Path target = parent.resolve(name);
        long dead = deadPid();
        long self = ProcessHandle.current().pid();
        Path stale;
        try (OutputFolder f = OutputFolder.create(target, false)) {
            String temp = f.temp().getFileName().toString();
            stale = f.temp().resolveSibling(temp.replace(".ugm-tmp-" + self + "-", ".ugm-tmp-" + dead + "-"));
            Files.move(f.temp(), stale); // as a killed run leaves it
            Files.createDirectory(f.temp());
        }
        Path staleOld = parent.resolve(OutputFolder.sideName(name, "old", Long.toString(dead)));
        Files.createDirectories(staleOld.resolve("sub"));
        // a live process's temporary (this one's parent, say) is left alone
        long live = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
        Path alive = parent.resolve(OutputFolder.sideName(name, "tmp", live + "-1"));
        Files.createDirectory(alive);
        Path unrelated = Files.createDirectory(parent.resolve(".other.ugm-tmp-" + dead + "-1"));
        assertEquals(4, besides(parent).size());
        try (OutputFolder f = OutputFolder.create(target, false)) {
            assertFalse(Files.exists(stale), stale::toString);
            assertFalse(Files.exists(staleOld), staleOld::toString);
            assertTrue(Files.exists(alive));
            assertTrue(Files.exists(unrelated));
        }
        Files.delete(alive);
        Files.delete(unrelated);
    }

    @Test
    void sideNamesFitAndStayRecognisable() {
        for (String kind : List.of("short", "217", "218", "229", "255", "e-acute-254", "cjk-255", "emoji-252", "mixed-255")) {
            String name = name(kind);
            String tmp = OutputFolder.sideName(name, "tmp", Long.MAX_VALUE + "-ffffffff");
            String old = OutputFolder.sideName(name, "old", Long.toString(Long.MAX_VALUE));
            assertTrue(bytes(tmp) <= 255 && bytes(old) <= 255, tmp);
            assertTrue(tmp.endsWith(".ugm-tmp-" + Long.MAX_VALUE + "-ffffffff"), tmp);
            assertEquals(tmp.substring(0, tmp.indexOf(".ugm-tmp-")), old.substring(0, old.indexOf(".ugm-old-")));
            assertFalse(tmp.contains("\uFFFD"), "no character cut in half: " + tmp);
            assertTrue(StandardCharsets.UTF_8.newEncoder().canEncode(tmp), tmp);
        }
        // two long names sharing their first 200 bytes get different names
        assertFalse(OutputFolder.sideName("x".repeat(230) + "1", "tmp", "1-1").equals(OutputFolder.sideName("x".repeat(230) + "2", "tmp", "1-1")));
        assertEquals(".out.ugm-old-42", OutputFolder.sideName("out", "old", "42"));
    }

    @Test
    void aLongSafetensorsFileNameCanBeWritten() throws IOException {
        Path target = dir.resolve("w".repeat(240) + ".safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(target, List.of(new TensorInfo("t", DType.F32, new long[] {1})), Map.of())) {
            assertTrue(bytes(w.temporaryPath().getFileName().toString()) <= 255);
            w.commit();
        }
        assertTrue(Files.isRegularFile(target));
    }

    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
