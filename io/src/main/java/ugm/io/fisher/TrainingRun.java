package ugm.io.fisher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The number of training examples behind a Fisher: given ({@code --examples}), or estimated from
 * the Hugging Face Trainer's {@code trainer_state.json} as the size of the data set, the number the
 * paper scales its Fishers by:
 * <pre>
 *   examples = global_step x batch / epoch
 * </pre>
 * global_step x batch is the number of examples the optimizer has seen (batch: examples per
 * optimizer step, {@code train_batch_size} unless {@code --batch} says otherwise; that field is
 * the batch of one process and one accumulation step, so gradient accumulation and data-parallel
 * processes need {@code --batch}), and dividing by the epochs run gives one pass over the data: the
 * data set rounded up to whole batches. Without {@code epoch} it is the examples seen.
 *
 * @param count the examples, at least 1
 * @param from  how it was found, for the report and the metadata
 * @param batch the examples per optimizer step, or null when unknown
 */
record TrainingRun(long count, String from, Long batch) {

    static final String TRAINER_STATE = "trainer_state.json";

    /**
     * The examples, or null when nothing gives them; {@code notes} receives why not when a
     * trainer_state.json was found but did not suffice.
     */
    static TrainingRun of(List<Path> folders, Long examples, Long batch, List<String> notes) {
        Path state = folders.stream().filter(f -> f != null && Files.isRegularFile(f.resolve(TRAINER_STATE)))
                .map(f -> f.resolve(TRAINER_STATE)).findFirst().orElse(null);
        if (examples != null) {
            return new TrainingRun(examples, "--examples", batch != null ? batch : state == null ? null
                    : JsonFields.read(state).whole("train_batch_size"));
        }
        if (state == null) {
            return null;
        }
        JsonFields f = JsonFields.read(state);
        Long step = f.whole("global_step");
        Long b = batch != null ? batch : f.whole("train_batch_size");
        String bFrom = batch != null ? "--batch" : "train_batch_size";
        if (step == null || step < 1) {
            notes.add(state + " has no global_step >= 1; no example count (give --examples)");
            return null;
        }
        if (b == null || b < 1) {
            notes.add(state + " has no train_batch_size; no example count (give --batch or --examples)");
            return null;
        }
        Double epoch = f.number("epoch");
        double seen = (double) step * b;
        if (epoch != null && epoch > 0 && Double.isFinite(epoch)) {
            long n = Math.max(1, Math.round(seen / epoch));
            return new TrainingRun(n, TRAINER_STATE + ": global_step " + step + " x batch " + b + " (" + bFrom + ") / epoch "
                    + Values.format(epoch), b);
        }
        return new TrainingRun(Math.round(seen), TRAINER_STATE + ": global_step " + step + " x batch " + b + " (" + bFrom
                + "), examples seen (no epoch recorded)", b);
    }
}
