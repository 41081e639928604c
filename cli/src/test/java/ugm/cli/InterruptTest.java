package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.ShardedWriter;

/**
 * SIGTERM at many moments of a real {@code ugm convert --threads 8} of a checkpoint of many small
 * tensors into many small shards (so the output folder gets file after file while the signal
 * lands): as the JVM starts, in ugm's first milliseconds and its set-up, as the temporary output
 * folder appears and at staggered moments after (shards created, converted, committed, the
 * model's files copied). Every run must end with exit 130 and the one line
 * {@code ugm: interrupted[; removed the unfinished ...]}, leave no {@code .ugm-} temporary behind
 * and no output unless complete; or have finished (exit 0) before the signal.
 *
 * <p>The only other end allowed is the JVM's own exit 143 for a signal that arrived before it
 * ran any of ugm's code (nothing of ugm's exists then): the class-load log of each run says
 * whether {@code ugm.cli.Main} was reached. The code before the fix failed this test in each of
 * its runs: exit 143 from signals in ugm's set-up, a temporary folder left behind, or a second
 * line on stderr.
 */
class InterruptTest {
    @TempDir
    static Path tmp;
    static Path input;

    /** 2,000 tensors of 256 F32 each in 2 shards, plus the model's other files. */
    @BeforeAll
    static void writeInput() throws IOException {
        input = tmp.resolve("in");
        List<TensorInfo> tensors = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            tensors.add(new TensorInfo("model.layers." + i / 8 + ".t" + i % 8 + ".weight", DType.F32, new long[] {16, 16}));
        }
        try (ShardedWriter w = ShardedWriter.create(input, tensors, Map.of("format", "pt"), 1_100_000)) {
            for (int i = 0; i < tensors.size(); i++) {
                MemorySegment s = w.target(tensors.get(i));
                for (int j = 0; j < 256; j++) {
                    s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, i + j / 256f);
                }
            }
            w.commit();
        }
        Files.writeString(input.resolve("config.json"), "{\n  \"model_type\": \"test\",\n  \"torch_dtype\": \"float32\"\n}\n");
        Files.writeString(input.resolve("tokenizer.json"), "{\"model\": {}}\n".repeat(20_000));
        Files.writeString(input.resolve("generation_config.json"), "{}\n");
    }

    /** When the signal is sent: {@code ms} milliseconds after {@code anchor}. */
    record Moment(Anchor anchor, int ms) {
        @Override
        public String toString() {
            return ms + " ms after " + anchor.text;
        }
    }

    enum Anchor {
        /** The process started: the JVM's own start-up, before any of ugm's code. */
        START("the process started"),
        /** ugm's first class after the handler's: ugm setting up (native access, command line, opening the input). */
        SETUP("ugm.cli.Progress was loaded"),
        /** The temporary output folder appeared: shard files being created, then converted. */
        TEMP("the temporary folder appeared"),
        /** A shard was renamed to its final name inside the temporary folder: the shards being committed. */
        COMMIT("the first shard was committed"),
        /** The model's files are being copied into the temporary folder, which is then published. */
        COPY("tokenizer.json appeared");

        final String text;

        Anchor(String text) {
            this.text = text;
        }
    }

    static List<Moment> moments() {
        List<Moment> m = new ArrayList<>();
        m.add(new Moment(Anchor.START, 0));
        for (int ms : new int[] {0, 3, 10, 30, 100}) {
            m.add(new Moment(Anchor.SETUP, ms));
        }
        for (int ms : new int[] {0, 0, 1, 2, 4, 7, 12, 20, 40, 80}) {
            m.add(new Moment(Anchor.TEMP, ms));
        }
        m.add(new Moment(Anchor.COMMIT, 0));
        m.add(new Moment(Anchor.COMMIT, 10));
        m.add(new Moment(Anchor.COPY, 0));
        m.add(new Moment(Anchor.COPY, 1));
        return m;
    }

    /** Whether {@code anchor} has been reached by the process working in {@code cwd}. */
    static boolean reached(Anchor anchor, Path cwd, ClassLog log) throws IOException {
        return switch (anchor) {
            case START -> true;
            case SETUP -> log.has(" ugm.cli.Progress ");
            case TEMP -> hasTemporaryFolder(cwd);
            case COMMIT -> inTemporaryFolder(cwd).stream().anyMatch(n -> n.startsWith("model-"));
            case COPY -> inTemporaryFolder(cwd).contains("tokenizer.json");
        };
    }

    @Test
    void sigtermAtAnyMomentOfAManyTensorConvertExits130AndLeavesNoTemporary() throws Exception {
        long t0 = System.nanoTime();
        List<String> failures = new ArrayList<>();
        int interrupted = 0;
        int finished = 0;
        int beforeMain = 0;
        List<Moment> moments = moments();
        for (int run = 0; run < moments.size(); run++) {
            Moment moment = moments.get(run);
            Path cwd = tmp.resolve("run-" + run);
            Path out = cwd.resolve("out");
            Files.createDirectories(cwd);
            long started = System.nanoTime();
            Process p = start(cwd, List.of("convert", input.toString(), out.toString(), "--dtype", "bf16", "--shard-size", "24KB",
                    "--threads", "8", "--quiet"));
            ClassLog log = new ClassLog(cwd.resolve("classes.log"));
            while (p.isAlive() && !reached(moment.anchor(), cwd, log)) {
                Thread.sleep(0, 500_000);
            }
            sleepUntil(System.nanoTime() + moment.ms() * 1_000_000L);
            p.destroy(); // SIGTERM
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("ugm did not end after SIGTERM " + moment);
            }
            int code = p.exitValue();
            List<String> err = Files.readAllLines(cwd.resolve("err.txt")).stream().filter(l -> !l.contains("incubator")).toList();
            Path classes = cwd.resolve("classes.log"); // absent when the JVM was ended before it logged anything
            boolean reachedMain = Files.exists(classes) && Files.readString(classes).contains(" ugm.cli.Main ");
            List<Path> left = temporaries(cwd);
            String what = String.format(java.util.Locale.ROOT, "run %d (%.1f s), SIGTERM %s: exit %d, stderr %s, left %s", run,
                    (System.nanoTime() - started) / 1e9, moment, code, err, left);
            System.out.println(what);
            if (!left.isEmpty()) {
                failures.add(what + ": temporaries left behind");
            }
            try (Stream<Path> s = Files.list(cwd)) {
                if (s.anyMatch(f -> f.getFileName().toString().startsWith("hs_err"))) {
                    failures.add(what + ": JVM crash log");
                }
            }
            if (code == 0) {
                finished++;
                checkComplete(out, failures, what);
            } else if (code == ExitCodes.INTERRUPTED) {
                interrupted++;
                if (err.size() != 1 || !(err.get(0).equals("ugm: interrupted")
                        || err.get(0).startsWith("ugm: interrupted; removed the unfinished " + cwd.resolve(".out.ugm-tmp-")))) {
                    failures.add(what + ": not the one line");
                }
                if (Files.exists(out)) {
                    checkComplete(out, failures, what); // the signal came after the output was published
                }
            } else if (code == 143 && !reachedMain && !Files.exists(out)) {
                beforeMain++; // the JVM's own default (it may say why on stderr): ugm had not started
            } else {
                failures.add(what + ": exit " + code + (reachedMain ? " after ugm.cli.Main was loaded" : ""));
            }
            deleteTree(cwd);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("InterruptTest: %d runs in %.1f s: %d interrupted (130), %d finished first (0), %d before main (143), %d failed%n",
                moments.size(), seconds, interrupted, finished, beforeMain, failures.size());
        failures.forEach(System.out::println);
        assertEquals(List.of(), failures);
        assertTrue(interrupted >= moments.size() / 2, "most runs should have been interrupted, not " + interrupted);
    }

    /** A real ugm process in {@code cwd}, SIGTERM at its default, with its class-load log in {@code cwd/classes.log}. */
    static Process start(Path cwd, List<String> ugmArgs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("env", "--default-signal=INT,TERM",
                ProcessHandle.current().info().command().orElseThrow(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:-UsePerfData",
                "-XX:TieredStopAtLevel=1", // quicker to start; the code paths are the same
                "-Xlog:class+load=info:file=" + cwd.resolve("classes.log"),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(ugmArgs);
        return new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(cwd.resolve("out.txt").toFile()).redirectError(cwd.resolve("err.txt").toFile()).start();
    }

    /** The JVM's class-load log of a running process, read as it grows. */
    static final class ClassLog {
        private final Path file;
        private final StringBuilder text = new StringBuilder();
        private long read;

        ClassLog(Path file) {
            this.file = file;
        }

        boolean has(String s) throws IOException {
            if (Files.exists(file)) {
                try (var ch = java.nio.channels.FileChannel.open(file)) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) Math.max(0, ch.size() - read));
                    read += ch.read(b, read) > 0 ? b.position() : 0;
                    int from = Math.max(0, text.length() - s.length());
                    text.append(new String(b.array(), 0, b.position(), java.nio.charset.StandardCharsets.UTF_8));
                    return text.indexOf(s, from) >= 0;
                }
            }
            return false;
        }
    }

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long ms = (nanoTime - System.nanoTime()) / 1_000_000;
        if (ms > 1) {
            Thread.sleep(ms - 1);
        }
        while (System.nanoTime() < nanoTime) {
            Thread.onSpinWait();
        }
    }

    static boolean hasTemporaryFolder(Path cwd) throws IOException {
        try (Stream<Path> s = Files.list(cwd)) {
            return s.anyMatch(f -> f.getFileName().toString().startsWith(".out.ugm-tmp-"));
        }
    }

    /** The names in the temporary output folder, if there is one. */
    static List<String> inTemporaryFolder(Path cwd) throws IOException {
        try (Stream<Path> s = Files.list(cwd)) {
            for (Path t : s.filter(f -> f.getFileName().toString().startsWith(".out.ugm-tmp-")).toList()) {
                try (Stream<Path> files = Files.list(t)) {
                    return files.map(f -> f.getFileName().toString()).toList();
                } catch (IOException gone) {
                    return List.of();
                }
            }
        }
        return List.of();
    }

    /** Every file or folder under {@code dir} whose name marks it as a ugm temporary. */
    static List<Path> temporaries(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(f -> f.getFileName().toString().contains(".ugm-")).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return temporaries(dir); // something vanished while walking: look again
        }
    }

    static void checkComplete(Path out, List<String> failures, String what) {
        Run v = Run.of("validate", out.toString());
        if (v.code() != 0 || !Files.exists(out.resolve("tokenizer.json"))) {
            failures.add(what + ": an incomplete output: " + v);
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
