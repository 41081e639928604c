package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults of a real {@code ugm merge} process: killed (SIGKILL) at several points, interrupted
 * (SIGINT, SIGTERM), an input truncated while mapped, and a full disk (a file-size limit and a
 * small file system). Each ends cleanly: the documented exit code, one line on stderr, no
 * output folder unless complete, no temporaries left (or, after kill -9, none left after the
 * next run), and no JVM crash log.
 *
 * <p>The merges run with one thread on a 64 MB family, which takes seconds; the test waits for
 * the merge to have started (the output's temporary file exists) before it strikes. A merge that
 * finished first is simply run again.
 */
class FaultsTest {
    @TempDir
    static Path tmp;
    static Path family;
    static Path reference;

    @BeforeAll
    static void writeFamilyAndReference() throws IOException {
        family = tmp.resolve("family");
        Run r = Run.of("family", family.toString(), "--size", "64MB", "--tasks", "3");
        assertEquals(0, r.code(), r::toString);
        reference = tmp.resolve("reference");
        Run m = Run.of(mergeArgs(family, reference).toArray(String[]::new));
        assertEquals(0, m.code(), m::toString);
    }

    static List<String> mergeArgs(Path fam, Path out) {
        List<String> a = new ArrayList<>(List.of("merge", "--method", "gradient_matching", "--threads", "1",
                "--base", fam.resolve("base").toString(), "--out", out.toString()));
        for (int t = 1; t <= 3; t++) {
            a.add("--model");
            a.add(fam.resolve("task-" + t).toString());
        }
        return a;
    }

    /** A ugm process in {@code cwd}; SIGINT and SIGTERM at their defaults whatever the test runner ignores. */
    static Process start(Path cwd, String shellPrefix, List<String> ugmArgs) throws IOException {
        List<String> java = new ArrayList<>(List.of("env", "--default-signal=INT,TERM",
                ProcessHandle.current().info().command().orElseThrow(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UsePerfData",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        java.addAll(ugmArgs);
        List<String> cmd = java;
        if (shellPrefix != null) {
            cmd = new ArrayList<>(List.of("bash", "-c", shellPrefix + "; exec \"$@\"", "ugm"));
            cmd.addAll(java);
        }
        Files.createDirectories(cwd);
        return new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(cwd.resolve("out.txt").toFile()).redirectError(cwd.resolve("err.txt").toFile()).start();
    }

    static int await(Process p) throws InterruptedException {
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("ugm did not end");
        }
        return p.exitValue();
    }

    /** Files beside {@code out} whose names mark them as its temporaries. */
    static List<Path> temporaries(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out.getParent())) {
            return s.filter(p -> p.getFileName().toString().startsWith("." + out.getFileName() + ".ugm-")).toList();
        }
    }

    /** Waits until the merge is writing: a temporary folder beside {@code out} holds the output's temporary file. */
    static boolean awaitWriting(Process p, Path out) throws IOException, InterruptedException {
        return awaitState(p, () -> {
            for (Path t : temporaries(out)) {
                try (Stream<Path> s = Files.list(t)) {
                    if (s.anyMatch(f -> f.getFileName().toString().contains(".ugm-tmp-"))) {
                        return true;
                    }
                } catch (IOException gone) {
                    // renamed or removed meanwhile
                }
            }
            return false;
        });
    }

    interface State {
        boolean reached() throws IOException;
    }

    /** Polls until {@code s} holds (true) or the process ended (false). */
    static boolean awaitState(Process p, State s) throws IOException, InterruptedException {
        while (p.isAlive()) {
            if (s.reached()) {
                return true;
            }
            Thread.sleep(1);
        }
        return false;
    }

    static void assertNoCrashLog(Path cwd) throws IOException {
        try (Stream<Path> s = Files.list(cwd)) {
            List<Path> logs = s.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList();
            assertEquals(List.of(), logs, "the JVM crashed");
        }
    }

    static List<String> errLines(Path cwd) throws IOException {
        return Files.readAllLines(cwd.resolve("err.txt")).stream().filter(l -> !l.contains("incubator")).toList();
    }

    static void assertSameAsReference(Path out) throws IOException {
        assertEquals(-1, Files.mismatch(reference.resolve("model.safetensors"), out.resolve("model.safetensors")),
                out + " differs from a merge that was not disturbed");
    }

    @Test
    void ctrlCAndSigtermRemoveTheTemporariesAndExit130() throws Exception {
        for (String signal : List.of("INT", "TERM")) {
            Path cwd = tmp.resolve("signal-" + signal);
            Path out = cwd.resolve("out");
            boolean interrupted = false;
            for (int attempt = 0; attempt < 3 && !interrupted; attempt++) {
                Process p = start(cwd, null, mergeArgs(family, out));
                boolean writing = awaitWriting(p, out);
                if (signal.equals("TERM")) {
                    p.destroy(); // SIGTERM
                } else {
                    new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).inheritIO().start().waitFor();
                }
                int code = await(p);
                assertNoCrashLog(cwd);
                if (code == 0 && !writing) {
                    Files.walk(out).sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                    continue; // finished before the signal: try again
                }
                interrupted = true;
                List<String> err = errLines(cwd);
                assertEquals(ExitCodes.INTERRUPTED, code, signal + ": " + err);
                assertEquals(1, err.size(), err::toString);
                assertTrue(err.get(0).startsWith("ugm: interrupted; removed the unfinished " + cwd.resolve(".out.ugm-tmp-")),
                        err.get(0));
                assertFalse(Files.exists(out), "no output");
                assertEquals(List.of(), temporaries(out), "temporaries removed");
            }
            assertTrue(interrupted, signal + ": every merge finished before the signal");
        }
    }

    @Test
    void killedAtSeveralPointsLeavesNoCompleteLookingOutputAndTheNextRunCleansUp() throws Exception {
        Path cwd = tmp.resolve("kill");
        Path out = cwd.resolve("out");
        // Points: at once (JVM start, planning), as the temporary folder appears, while writing, a while into the merge.
        List<Predicate<Process>> points = List.of(
                p -> true,
                p -> reached(p, () -> !temporaries(out).isEmpty()),
                p -> reached(p, () -> awaitWriting(p, out)),
                p -> reached(p, () -> {
                    awaitWriting(p, out);
                    Thread.sleep(800);
                    return true;
                }));
        int leftBehind = 0;
        for (Predicate<Process> point : points) {
            Process p = start(cwd, null, mergeArgs(family, out));
            point.test(p);
            p.destroyForcibly(); // SIGKILL: nothing runs
            await(p);
            assertNoCrashLog(cwd);
            List<Path> left = temporaries(out);
            for (Path t : left) {
                assertTrue(t.getFileName().toString().startsWith(".out.ugm-tmp-" + p.pid() + "-"), t::toString);
            }
            leftBehind += left.isEmpty() ? 0 : 1;
            if (Files.exists(out)) {
                assertSameAsReference(out); // only a complete output is ever under the target name
                Files.walk(out).sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
            // The next run into the same target removes what the killed one left, and succeeds.
            Run r = Run.of(mergeArgs(family, out).toArray(String[]::new));
            assertEquals(0, r.code(), r::toString);
            assertSameAsReference(out);
            assertEquals(List.of(), temporaries(out), "temporaries of the killed run removed");
            Files.walk(out).sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        assertTrue(leftBehind > 0, "no kill left temporaries behind: the cleanup by the next run was not exercised");
    }

    interface Step {
        boolean run() throws Exception;
    }

    static boolean reached(Process p, Step s) {
        try {
            return s.run();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void anInputTruncatedDuringTheMergeIsAnIoErrorNamingItWithoutCrashLogOrOutput() throws Exception {
        boolean truncated = false;
        for (int attempt = 0; attempt < 3 && !truncated; attempt++) {
            Path cwd = tmp.resolve("truncate-" + attempt);
            Path fam = cwd.resolve("family");
            copyFamily(fam);
            Path out = cwd.resolve("out");
            Path victim = fam.resolve("task-2").resolve("model.safetensors");
            Process p = start(cwd, null, mergeArgs(fam, out));
            boolean writing = awaitWriting(p, out);
            try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.WRITE)) {
                ch.truncate(4096);
            }
            int code = await(p);
            assertNoCrashLog(cwd);
            if (code == 0 && !writing) {
                continue;
            }
            truncated = true;
            List<String> err = errLines(cwd);
            assertEquals(ExitCodes.IO, code, err::toString);
            assertEquals(List.of("ugm: input changed during merge: " + victim), err);
            assertFalse(Files.exists(out), "no output");
            assertEquals(List.of(), temporaries(out), "no temporaries");
        }
        assertTrue(truncated, "every merge finished before the truncation");
    }

    @Test
    void anInputRewrittenInPlaceAtTheSameSizeDuringTheMergeIsAnIoErrorNamingItWithNoOutput() throws Exception {
        boolean rewritten = false;
        for (int attempt = 0; attempt < 3 && !rewritten; attempt++) {
            Path cwd = tmp.resolve("rewrite-" + attempt);
            Path fam = cwd.resolve("family");
            copyFamily(fam);
            Path out = cwd.resolve("out");
            Path victim = fam.resolve("task-2").resolve("model.safetensors");
            long size = Files.size(victim);
            Process p = start(cwd, null, mergeArgs(fam, out));
            boolean writing = awaitWriting(p, out);
            try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.allocate(1 << 16), size / 2); // zeros over data, as a training job saving over it
            }
            assertEquals(size, Files.size(victim));
            int code = await(p);
            assertNoCrashLog(cwd);
            if (code == 0 && !writing) {
                continue;
            }
            rewritten = true;
            List<String> err = errLines(cwd);
            assertEquals(ExitCodes.IO, code, err::toString);
            assertEquals(List.of("ugm: input changed during merge: " + victim), err);
            assertFalse(Files.exists(out), "no output");
            assertEquals(List.of(), temporaries(out), "no temporaries");
        }
        assertTrue(rewritten, "every merge finished before the rewrite");
    }

    /** Links the family's files into {@code to}, except task-2's weights, which are copied (they get truncated or rewritten). */
    static void copyFamily(Path to) throws IOException {
        try (Stream<Path> s = Files.walk(family)) {
            for (Path f : s.toList()) {
                Path dst = to.resolve(family.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(dst);
                } else if (f.equals(family.resolve("task-2").resolve("model.safetensors"))) {
                    Files.copy(f, dst);
                } else {
                    Files.createLink(dst, f);
                }
            }
        }
    }

    @Test
    void aFileSizeLimitIsAClearIoErrorWithNoOutput() throws Exception {
        Path cwd = tmp.resolve("ulimit");
        Path out = cwd.resolve("out");
        Process p = start(cwd, "ulimit -f 1024", mergeArgs(family, out)); // 1 MB; the output has 8
        int code = await(p);
        assertNoCrashLog(cwd);
        List<String> err = errLines(cwd);
        assertEquals(ExitCodes.IO, code, err::toString);
        assertEquals(1, err.size(), err::toString);
        assertTrue(err.get(0).startsWith("ugm: " + cwd.resolve(".out.ugm-tmp-")), err.get(0));
        assertTrue(err.get(0).endsWith("model.safetensors: cannot create: cannot reserve 7868344 bytes: file too large")
                || err.get(0).contains(": cannot create: cannot reserve ") && err.get(0).endsWith("file too large"), err.get(0));
        assertFalse(Files.exists(out), "no output");
        assertEquals(List.of(), temporaries(out), "no temporaries");
    }

    @Test
    void aFullFileSystemIsAClearIoErrorWithNoOutput() throws Exception {
        Path small = Files.createDirectories(tmp.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "ugm-test", small.toString())
                .redirectErrorStream(true).start();
        assumeTrue(mount.waitFor(30, TimeUnit.SECONDS) && mount.exitValue() == 0,
                "cannot mount a small tmpfs here (needs root): " + new String(mount.getInputStream().readAllBytes()).strip());
        try {
            Path out = small.resolve("out");
            Run r = Run.of(mergeArgs(family, out).toArray(String[]::new));
            assertEquals(ExitCodes.IO, r.code(), r::toString);
            String line = r.errLine();
            assertTrue(line.startsWith("ugm: " + small.resolve(".out.ugm-tmp-")), line);
            assertTrue(line.contains(": cannot create: cannot reserve ") && line.endsWith("no space left on device"), line);
            assertFalse(Files.exists(out), "no output");
            assertEquals(List.of(), temporaries(out), "no temporaries");
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
