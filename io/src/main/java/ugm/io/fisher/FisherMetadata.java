package ugm.io.fisher;

import java.util.Map;

/**
 * The {@code __metadata__} keys of a Fisher checkpoint written by {@code ugm fisher}: where it came
 * from and the number it is meant to be scaled by. Values are strings, as safetensors requires.
 *
 * <p>Stateless: safe to call from any thread.
 */
public final class FisherMetadata {
    /** What the values are: {@code adam_exp_avg_sq}, {@code ivon_hess}, ... (see {@link FisherSource.Kind}). */
    public static final String SOURCE = "ugm_fisher_source";
    /** The file or folder read. */
    public static final String FROM = "ugm_fisher_from";
    /** The optimizer step (Adam), or a range {@code min..max} when parameters differ. */
    public static final String STEP = "ugm_fisher_step";
    /** Adam's β2 (or IVON's), per group when groups differ. */
    public static final String BETA2 = "ugm_fisher_beta2";
    /** The formula applied to the stored values. */
    public static final String FORMULA = "ugm_fisher_formula";
    /**
     * The number of training examples (a whole number): {@code merge} takes it as the default
     * {@code fisher_scale} of a model whose Fisher this is, and as the default
     * {@code base_fisher_scale} of a base Fisher.
     */
    public static final String EXAMPLES = "ugm_fisher_examples";
    /** How {@link #EXAMPLES} was found. */
    public static final String EXAMPLES_FROM = "ugm_fisher_examples_from";
    /** Examples per optimizer step, when known. */
    public static final String BATCH = "ugm_fisher_batch";
    /** IVON's effective sample size. */
    public static final String ESS = "ugm_fisher_ess";
    /** Parameters written as zeros because they had no optimizer state ({@code --allow-missing}). */
    public static final String ZEROS = "ugm_fisher_zeros";

    private FisherMetadata() {
    }

    /** A number as written in the metadata: 12 rather than 12.0. */
    public static String format(double d) {
        return Values.format(d);
    }

    /**
     * The example count a Fisher checkpoint records, or null when it records none or a value that
     * is not a positive finite number.
     */
    public static Double examples(Map<String, String> metadata) {
        String v = metadata.get(EXAMPLES);
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v.strip());
            return Double.isFinite(d) && d > 0 ? d : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
