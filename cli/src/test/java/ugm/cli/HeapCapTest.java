package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The heap holds a few buffers per thread, whatever the model size: a 48 MB heap merges inputs ten times its size. */
class HeapCapTest {
    @TempDir
    Path tmp;

    @Test
    void aMergeOfInputsTenTimesTheHeapSucceedsUnderXmx48m() throws Exception {
        Path family = tmp.resolve("family");
        Run gen = Run.of("family", family.toString(), "--size", "500MB", "--tasks", "3");
        assertEquals(0, gen.code(), gen::toString);

        Path capped = tmp.resolve("capped");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--add-modules", "jdk.incubator.vector", "-Xmx48m", "-XX:+ExitOnOutOfMemoryError",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(mergeArgs(family, capped));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "merge did not finish");
        String log = Files.readString(tmp.resolve("log"));
        assertEquals(0, p.exitValue(), log);
        java.util.regex.Matcher read = java.util.regex.Pattern.compile("read ([0-9.]+) MB").matcher(log);
        assertTrue(read.find() && Double.parseDouble(read.group(1)) >= 480, "inputs of at least 10 x 48 MB: " + log);

        Path free = tmp.resolve("free");
        Run r = Run.of(mergeArgs(family, free).toArray(String[]::new));
        assertEquals(0, r.code(), r::toString);
        assertEquals(-1, Files.mismatch(capped.resolve("model.safetensors"), free.resolve("model.safetensors")),
                "the capped merge wrote other bytes");
    }

    private static List<String> mergeArgs(Path family, Path out) throws IOException {
        List<String> a = new ArrayList<>(List.of("merge", "--method", "gradient_matching", "--base",
                family.resolve("base").toString(), "--out", out.toString()));
        for (int t = 1; t <= 3; t++) {
            a.add("--model");
            a.add(family.resolve("task-" + t).toString());
        }
        return a;
    }
}
