package ugm.demo;

import java.util.List;

/**
 * The data of one run: pretraining train/test, and each task's training, validation and held-out
 * (test) splits. Validation only chooses λ for the tuned lines; every accuracy reported is on the
 * test splits.
 */
record Suite(Dataset pretrain, Dataset pretrainTest, List<Dataset> taskTrain, List<Dataset> taskValidation,
             List<Dataset> taskTest) {

    Suite {
        taskTrain = List.copyOf(taskTrain);
        taskValidation = List.copyOf(taskValidation);
        taskTest = List.copyOf(taskTest);
    }

    /** The joint training set: every task's training split. */
    Dataset allTaskTrain() {
        Dataset all = taskTrain.get(0);
        for (int t = 1; t < taskTrain.size(); t++) {
            all = all.concat(taskTrain.get(t));
        }
        return all;
    }
}
