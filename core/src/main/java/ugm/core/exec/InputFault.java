package ugm.core.exec;

import java.util.LinkedHashSet;
import java.util.Set;
import ugm.core.TensorSource;
import ugm.core.UgmException;

/**
 * Turns the JVM's report of a failed access to mapped memory into a one-line I/O error. Reading a
 * page of a mapped file that was truncated underneath raises SIGBUS, which the JVM delivers as an
 * {@link InternalError} in the thread that touched the page. The job's sources are asked which of
 * them changed on disk ({@link TensorSource#changedFile}); that file is named. When none admits a
 * change, every file the tensor was read from is named (and the output, whose space is reserved
 * before it is mapped, is an unlikely culprit).
 */
final class InputFault {

    private InputFault() {
    }

    /**
     * Once a job's output is written: every file it was read from is still the one opened. A
     * file rewritten in place shows its new bytes through the mapping without any fault, so
     * without this check the output would mix old and new bytes.
     */
    static void requireUnchanged(String activity, ChunkExecutor.Job job) {
        String name = job.output().name();
        for (TensorSource source : job.sources()) {
            String f = source.changedFile(name);
            if (f != null) {
                throw new UgmException(UgmException.Kind.IO, "input changed during " + activity + ": " + f);
            }
        }
    }

    /** {@code activity}: what was running, as in "input changed during merge". */
    static UgmException of(String activity, ChunkExecutor.Job job, InternalError cause) {
        String name = job.output().name();
        Set<String> changed = new LinkedHashSet<>();
        Set<String> all = new LinkedHashSet<>();
        for (TensorSource source : job.sources()) {
            all.add(source.locate(name));
            String f;
            try {
                f = source.changedFile(name);
            } catch (RuntimeException e) {
                f = null; // best effort: the error below still names every file
            }
            if (f != null) {
                changed.add(f);
            }
        }
        String message = !changed.isEmpty()
                ? "input changed during " + activity + ": " + String.join(", ", changed)
                : "input changed during " + activity + ", or a mapped file could not be read: tensor '" + name + "' from "
                        + String.join(", ", all);
        return new UgmException(UgmException.Kind.IO, message, cause);
    }
}
