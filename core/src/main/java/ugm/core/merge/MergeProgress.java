package ugm.core.merge;

import ugm.core.TensorInfo;

/**
 * What a running merge tells as it goes. Both methods are called from the worker threads, so
 * they must be cheap and thread-safe. (Two abstract methods on purpose: a lambda given to
 * {@link Merger#execute} stays the plain bytes-written {@code LongConsumer}.)
 */
public interface MergeProgress {

    /** Tells nobody. */
    MergeProgress NONE = new MergeProgress() {
        @Override
        public void written(long bytes) {
        }

        @Override
        public void tensorDone(TensorInfo tensor) {
        }
    };

    /** {@code bytes} more of the output have been written (one chunk). */
    void written(long bytes);

    /** Every chunk of {@code tensor} has been written. */
    void tensorDone(TensorInfo tensor);
}
