package ugm.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import ugm.core.TensorInfo;
import ugm.core.merge.MergeProgress;

/**
 * Progress of a long job on stderr: a bar (tensors and bytes done, rate, ETA) when stderr is a
 * terminal, a plain line every few seconds otherwise, nothing when quiet. Workers only add to
 * counters; one ticker thread draws.
 */
final class Progress implements MergeProgress, AutoCloseable {
    /** Seconds between plain lines (system property {@code ugm.progress.seconds}, default 5). */
    private static final double LINE_SECONDS = Double.parseDouble(System.getProperty("ugm.progress.seconds", "5"));

    private final String task;
    private final long totalBytes;
    /** Bytes read and written per byte written: rates are of all I/O, as the summary's are. */
    private final double ioPerByte;
    private final int totalTensors;
    private final LongAdder bytes = new LongAdder();
    private final AtomicInteger tensors = new AtomicInteger();
    private final long start = System.nanoTime();
    private final PrintWriter lines;
    private final ProgressBar bar;
    private final Thread ticker;
    private volatile boolean closed;

    private Progress(String task, long totalBytes, double ioPerByte, int totalTensors, PrintWriter lines, ProgressBar bar) {
        this.task = task;
        this.totalBytes = totalBytes;
        this.ioPerByte = ioPerByte;
        this.totalTensors = totalTensors;
        this.lines = lines;
        this.bar = bar;
        this.ticker = lines == null && bar == null ? null : Thread.ofPlatform().daemon().name("ugm-progress").start(this::tick);
    }

    /**
     * @param err        where plain lines go
     * @param quiet      print nothing
     * @param terminal   whether the process's stderr is a terminal (then a bar is drawn on System.err);
     *                   asked only when not quiet
     */
    static Progress start(String task, long totalBytes, long totalRead, int totalTensors, PrintWriter err, boolean quiet,
                          BooleanSupplier terminal) {
        double io = totalBytes == 0 ? 1 : (double) (totalBytes + totalRead) / totalBytes;
        if (quiet) {
            return new Progress(task, totalBytes, io, totalTensors, null, null);
        }
        if (terminal.getAsBoolean()) {
            ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalBytes)
                    .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUnit(" MB", 1_000_000).showSpeed()
                    .setUpdateIntervalMillis(250).continuousUpdate()
                    .setConsumer(new ConsoleProgressBarConsumer(new PrintStream(System.err, true)))
                    .build();
            return new Progress(task, totalBytes, io, totalTensors, null, bar);
        }
        return new Progress(task, totalBytes, io, totalTensors, err, null);
    }

    @Override
    public void written(long n) {
        bytes.add(n);
    }

    @Override
    public void tensorDone(TensorInfo tensor) {
        tensors.incrementAndGet();
    }

    /** For jobs that count bytes only (convert). */
    void bytes(long n) {
        bytes.add(n);
    }

    private void tick() {
        long lastLine = System.nanoTime();
        while (!closed) {
            try {
                Thread.sleep(bar != null ? 250 : 100);
            } catch (InterruptedException e) {
                return;
            }
            if (bar != null) {
                bar.stepTo(bytes.sum());
                bar.setExtraMessage(tensorText());
            } else if (System.nanoTime() - lastLine >= LINE_SECONDS * 1e9 && !closed) {
                lastLine = System.nanoTime();
                lines.println(line(task, bytes.sum(), totalBytes, tensors.get(), totalTensors, ioPerByte, (System.nanoTime() - start) / 1e9));
                lines.flush();
            }
        }
    }

    private String tensorText() {
        return totalTensors > 0 ? " " + tensors.get() + "/" + totalTensors + " tensors" : "";
    }

    /**
     * One plain progress line, e.g. {@code ugm: merge 42% 1.20 GB of 2.86 GB written, 120/260 tensors, 0.85 GB/s, ETA 2 s}.
     * The rate counts bytes read and written ({@code ioPerByte} per byte written), as the summary does.
     */
    static String line(String task, long done, long total, int tensorsDone, int tensorsTotal, double ioPerByte, double seconds) {
        double rate = seconds > 0 ? done / seconds : 0;
        String eta = rate > 0 ? String.format(Locale.ROOT, "%.0f s", (total - done) / rate) : "unknown";
        return String.format(Locale.ROOT, "ugm: %s %d%% %s of %s written%s, %.2f GB/s, ETA %s", task,
                total == 0 ? 100 : (int) (100.0 * done / total), Sizes.format(done), Sizes.format(total),
                tensorsTotal > 0 ? ", " + tensorsDone + "/" + tensorsTotal + " tensors" : "", rate * ioPerByte / 1e9, eta);
    }

    @Override
    public void close() {
        closed = true;
        if (ticker != null) {
            ticker.interrupt();
            try {
                ticker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (bar != null) {
            bar.stepTo(bytes.sum());
            bar.setExtraMessage(tensorText());
            bar.close();
        }
    }

    /** Whether file descriptor 2 is a terminal (isatty); false where that cannot be asked. */
    @SuppressWarnings("restricted") // native access is enabled for ugm (--enable-native-access)
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable e) {
            return false;
        }
    }
}
