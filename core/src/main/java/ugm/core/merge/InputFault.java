package ugm.core.merge;

import java.util.LinkedHashSet;
import java.util.Set;
import ugm.core.UgmException;
import ugm.core.merge.MergePlan.Input;
import ugm.core.merge.MergePlan.TensorPlan;

/**
 * Turns the JVM's report of a failed access to mapped memory into a one-line I/O error. Reading a
 * page of a mapped file that was truncated underneath raises SIGBUS, which the JVM delivers as an
 * {@link InternalError} in the thread that touched the page. The inputs are asked which of them
 * changed on disk ({@link ugm.core.TensorSource#changedFile}); that file is named. When none
 * admits a change, every file the tensor was read from is named (and the output, whose space is
 * reserved before it is mapped, is an unlikely culprit).
 */
final class InputFault {

    private InputFault() {
    }

    /**
     * Once a tensor is written: every file it was read from is still the one opened. A file
     * rewritten in place shows its new bytes through the mapping without any fault, so without
     * this check the output would mix old and new bytes.
     */
    static void requireUnchanged(TensorPlan t) {
        String name = t.output().name();
        for (Input in : t.all()) {
            String f = in.source().changedFile(name);
            if (f != null) {
                throw new UgmException(UgmException.Kind.IO, "input changed during merge: " + f);
            }
        }
    }

    static UgmException of(TensorPlan t, InternalError cause) {
        String name = t.output().name();
        Set<String> changed = new LinkedHashSet<>();
        Set<String> all = new LinkedHashSet<>();
        for (Input in : t.all()) {
            all.add(in.source().locate(name));
            String f;
            try {
                f = in.source().changedFile(name);
            } catch (RuntimeException e) {
                f = null; // best effort: the error below still names every file
            }
            if (f != null) {
                changed.add(f);
            }
        }
        String message = !changed.isEmpty()
                ? "input changed during merge: " + String.join(", ", changed)
                : "input changed during merge, or a mapped file could not be read: tensor '" + name + "' from "
                        + String.join(", ", all);
        return new UgmException(UgmException.Kind.IO, message, cause);
    }
}
