package ugm.core.merge;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import ugm.core.DType;
import ugm.core.TensorSource;
import ugm.core.UgmException;

/**
 * Everything a merge needs: the method, the open inputs and the parameters. Build one with
 * {@link #builder(MergeMethod)}; {@link MergePlan#of(MergeRequest)} checks it against the tensors.
 *
 * <p>A request is immutable and may be shared between threads and merges (its inputs must then allow concurrent reads, as every {@code TensorSource} does); its {@link Builder} is not thread-safe.
 */
public final class MergeRequest {
    final MergeMethod method;
    final TensorSource base;
    final List<TensorSource> models;
    final List<TensorParameter> weights;
    final List<TensorParameter> fisherScales;
    final List<TensorSource> fishers;
    final TensorSource baseFisher;
    final TensorParameter baseFisherScale;
    final TensorParameter lambda;
    final TensorParameter delta0;
    final boolean remove;
    final float clampRel;
    final float fisherFloor;
    final boolean normalize;
    final DType outDtype;
    final int threads;
    final int chunkElements;
    final List<TensorParameter> densities;
    final List<TensorParameter> gammas;
    final List<TensorParameter> epsilons;
    final boolean filterWise;
    final TensorParameter t;
    final Boolean rescale;
    final long seed;
    /** The parameters without a field of their own (those of newer methods), by parameter. */
    final java.util.Map<Parameter, TensorParameter> numbers;
    final java.util.Map<Parameter, Boolean> flags;
    /** The per-model parameters without a field of their own, one value per model. */
    final java.util.Map<Parameter, List<TensorParameter>> perModelNumbers;

    private MergeRequest(Builder b) {
        method = b.method;
        base = b.base;
        models = List.copyOf(b.models);
        int t = models.size();
        weights = b.weights == null ? filled(t, Parameter.WEIGHT) : b.weights;
        fishers = List.copyOf(b.fishers);
        baseFisher = b.baseFisher;
        fisherScales = b.fisherScales == null ? filled(t, Parameter.FISHER_SCALE) : b.fisherScales;
        baseFisherScale = b.baseFisherScale;
        lambda = b.lambda;
        delta0 = b.delta0;
        remove = b.remove;
        clampRel = b.clampRel;
        fisherFloor = b.fisherFloor;
        normalize = b.normalize != null ? b.normalize : method.defaultFlag(Parameter.NORMALIZE);
        outDtype = b.outDtype;
        threads = b.threads > 0 ? b.threads : Runtime.getRuntime().availableProcessors();
        chunkElements = b.chunkElements;
        densities = b.densities == null ? filled(t, Parameter.DENSITY) : b.densities;
        gammas = b.gammas == null ? filled(t, Parameter.GAMMA) : b.gammas;
        epsilons = b.epsilons == null ? filled(t, Parameter.EPSILON) : b.epsilons;
        filterWise = b.filterWise;
        this.t = b.t;
        rescale = b.rescale;
        seed = b.seed;
        numbers = java.util.Map.copyOf(b.numbers);
        flags = java.util.Map.copyOf(b.flags);
        perModelNumbers = java.util.Map.copyOf(b.perModelNumbers);
        check();
    }

    /** n copies of the method's default of {@code p}. */
    private List<TensorParameter> filled(int n, Parameter p) {
        return java.util.Collections.nCopies(n, TensorParameter.of((float) method.defaultValue(p)));
    }

    private static TensorParameter defaultOf(Parameter p) {
        return TensorParameter.of((float) p.defaultValue());
    }

    private static List<TensorParameter> constants(float[] values) {
        List<TensorParameter> l = new ArrayList<>(values.length);
        for (float v : values) {
            l.add(TensorParameter.of(v));
        }
        return List.copyOf(l);
    }

    /** The value when {@code p} is a constant, else null (checked per tensor while planning). */
    private static Float constant(TensorParameter p) {
        return p instanceof TensorParameter.Constant c ? c.value() : null;
    }

    private void check() {
        if (models.isEmpty()) {
            throw usage("at least one model is needed");
        }
        if (method.needsBase() && base == null) {
            throw usage(method.id() + " needs a base model");
        }
        if (weights.size() != models.size()) {
            throw usage(weights.size() + " weights for " + models.size() + " models; give one per model, in model order");
        }
        if (fisherScales.size() != models.size()) {
            throw usage(fisherScales.size() + " Fisher scales for " + models.size() + " models; give one per model, in model order");
        }
        if (method.needsFishers() && fishers.size() != models.size()) {
            throw usage(method.id() + " needs a Fisher for every model: " + fishers.size() + " given for " + models.size() + " models");
        }
        if (method.needsBaseFisher() && baseFisher == null) {
            throw usage(method.id() + " needs a base Fisher");
        }
        if (remove && !method.supportsRemove()) {
            throw usage("remove does not apply to " + method.id());
        }
        if (outDtype != null && !outDtype.isMergeable()) {
            throw usage("output dtype must be one of BF16, F16, F32, F64, not " + outDtype);
        }
        requireNonNegative("fisher floor", fisherFloor);
        if (!(clampRel > 0 && clampRel <= 1)) {
            throw usage("the removal clamp must be in (0, 1], not " + clampRel);
        }
        String problem = check(constant(lambda), constant(delta0), constant(baseFisherScale),
                weights.stream().map(MergeRequest::constant).toList(), fisherScales.stream().map(MergeRequest::constant).toList());
        if (problem != null) {
            throw usage(problem);
        }
        if (densities.size() != models.size() || gammas.size() != models.size() || epsilons.size() != models.size()) {
            throw usage(densities.size() + " densities, " + gammas.size() + " gammas and " + epsilons.size() + " epsilons for " + models.size()
                    + " models; give one per model, in model order");
        }
        for (java.util.Map.Entry<Parameter, List<TensorParameter>> e : perModelNumbers.entrySet()) {
            if (e.getValue().size() != models.size()) {
                throw usage(e.getValue().size() + " values of " + e.getKey().key() + " for " + models.size()
                        + " models; give one per model, in model order");
            }
        }
        String count = method.modelCountProblem(models.size(), base != null);
        if (count != null) {
            throw usage(count);
        }
        String constants = method.requestProblem(this);
        if (constants != null) {
            throw usage(constants);
        }
        if (chunkElements < 64) {
            throw usage("chunk size must be at least 64 elements");
        }
    }

    /**
     * The first parameter value out of range, as a message, or null. A null value is one not
     * known yet (it depends on the tensor) and is skipped; the planner checks it per tensor.
     */
    String check(Float lambdaValue, Float delta0Value, Float baseScaleValue, List<Float> weightValues, List<Float> scaleValues) {
        String p = finite("lambda", lambdaValue);
        p = p != null ? p : nonNegative("delta0", delta0Value);
        p = p != null ? p : nonNegative("base Fisher scale", baseScaleValue);
        for (int i = 0; i < weightValues.size() && p == null; i++) {
            p = finite("weight of model " + (i + 1), weightValues.get(i));
            p = p != null ? p : nonNegative("Fisher scale of model " + (i + 1), scaleValues.get(i));
        }
        if (p == null && !weightValues.contains(null)) {
            float[] w = new float[weightValues.size()];
            for (int i = 0; i < w.length; i++) {
                w[i] = weightValues.get(i);
            }
            p = method.weightsProblem(w, normalize);
            if (p == null && lambdaValue != null && delta0Value != null && baseScaleValue != null && !scaleValues.contains(null)) {
                p = coefficientsProblem(w, lambdaValue, delta0Value, baseScaleValue, scaleValues);
            }
        }
        return p;
    }

    /**
     * Whether the coefficients the kernels take (float32) are finite: lambda × weight overflows
     * for lambda 3e38 and weight 2, and the kernels cannot recover a coefficient that is infinite.
     */
    private String coefficientsProblem(float[] w, float lambdaValue, float delta0Value, float baseScaleValue, List<Float> scaleValues) {
        float[] scales = new float[w.length];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = scaleValues.get(i);
        }
        MergePlan.Coefficients c = method.coefficients(new MergeMethod.TensorValues(w.clone(), scales, lambdaValue, baseScaleValue,
                delta0Value, normalize, remove, clampRel, fisherFloor));
        for (int i = 0; i < w.length; i++) {
            float alpha = c.alphas()[i];
            float weight = c.weights()[i];
            if (!Float.isFinite(alpha) || !Float.isFinite(weight)) {
                String what = method.reads(Parameter.LAMBDA) ? "lambda × weight of model " + (i + 1) + " (" + lambdaValue + " × " + w[i] + ")"
                        : "the weight of model " + (i + 1) + " (" + w[i] + ")";
                return what + (normalize && method.reads(Parameter.NORMALIZE) ? " divided by the sum of the weights" : "") + " is beyond the float32 range ugm computes in (±"
                        + Float.MAX_VALUE + ")";
            }
        }
        return null;
    }

    private static String finite(String what, Float v) {
        return v == null || Float.isFinite(v) ? null : what + " must be a finite number, not " + v;
    }

    private static String nonNegative(String what, Float v) {
        return v == null || (v >= 0 && !Float.isInfinite(v)) ? null : what + " must be a finite number >= 0, not " + v;
    }

    private static void requireNonNegative(String what, float v) {
        String p = nonNegative(what, v);
        if (p != null) {
            throw usage(p);
        }
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }

    /** Whether the sparsified elements are rescaled: as asked, else the method's default. */
    public boolean rescale() {
        return rescale != null ? rescale : method.defaultFlag(Parameter.RESCALE);
    }

    /** Whether to divide by the sum of the (surviving) weights: as asked, else the method's default. */
    public boolean normalize() {
        return normalize;
    }

    /** The merge method. */
    public MergeMethod method() {
        return method;
    }

    /** The number of models besides the base. */
    public int modelCount() {
        return models.size();
    }

    /** The seed of the random sparsifiers. */
    public long seed() {
        return seed;
    }

    /** model_stock: one t per row. */
    public boolean filterWise() {
        return filterWise;
    }

    /** Model {@code model}'s value of a per-model parameter (weight, fisher_scale, density, gamma, epsilon, scale). */
    public TensorParameter perModel(Parameter p, int model) {
        if (!p.perModel()) {
            throw new IllegalArgumentException(p.key() + " is not given per model");
        }
        List<TensorParameter> l = switch (p) {
            case WEIGHT -> weights;
            case FISHER_SCALE -> fisherScales;
            case DENSITY -> densities;
            case GAMMA -> gammas;
            case EPSILON -> epsilons;
            default -> perModelNumbers.getOrDefault(p, filled(models.size(), p));
        };
        return l.get(model);
    }

    /** A global per-tensor parameter (lambda, delta0, base_fisher_scale, t). */
    public TensorParameter global(Parameter p) {
        return switch (p) {
            case LAMBDA -> lambda;
            case DELTA0 -> delta0;
            case BASE_FISHER_SCALE -> baseFisherScale;
            case T -> t;
            default -> {
                if (p.perModel() || p.kind() == Parameter.Kind.FLAG) {
                    throw new IllegalArgumentException(p.key() + " is not a global number");
                }
                yield numbers.getOrDefault(p, TensorParameter.of((float) method.defaultValue(p)));
            }
        };
    }

    /** A flag without a field of its own: as set, else the method's default. */
    public boolean flag(Parameter p) {
        if (p.kind() != Parameter.Kind.FLAG) {
            throw new IllegalArgumentException(p.key() + " is not a flag");
        }
        return switch (p) {
            case NORMALIZE -> normalize;
            case RESCALE -> rescale();
            case REMOVE -> remove;
            case FILTER_WISE -> filterWise;
            default -> flags.getOrDefault(p, method.defaultFlag(p));
        };
    }

    /** The worker threads asked for; 0: all processors. */
    public int threads() {
        return threads;
    }

    /** Whether some parameter is a function of the tensor (else one set of coefficients serves all). */
    boolean dependsOnTensor() {
        List<TensorParameter> all = new ArrayList<>(weights);
        all.addAll(fisherScales);
        all.addAll(List.of(lambda, delta0, baseFisherScale));
        return !all.stream().allMatch(p -> p instanceof TensorParameter.Constant);
    }

    /** The tensor list the output follows: the base's, or the first model's when there is no base. */
    TensorSource reference() {
        return base != null ? base : models.get(0);
    }

    /** A builder for a request that merges with {@code method} (one of {@link ugm.core.merge.methods.Method}, or your own). */
    public static Builder builder(MergeMethod method) {
        return new Builder(method);
    }

    /** Collects a request; every setter is optional except the models (and the base where the method needs one). */
    public static final class Builder {
        private final MergeMethod method;
        private TensorSource base;
        private final List<TensorSource> models = new ArrayList<>();
        private List<TensorParameter> weights;
        private final List<TensorSource> fishers = new ArrayList<>();
        private TensorSource baseFisher;
        private List<TensorParameter> fisherScales;
        private TensorParameter baseFisherScale = defaultOf(Parameter.BASE_FISHER_SCALE);
        private TensorParameter lambda = defaultOf(Parameter.LAMBDA);
        private TensorParameter delta0 = defaultOf(Parameter.DELTA0);
        private boolean remove;
        private float clampRel = (float) Parameter.CLAMP.defaultValue();
        private float fisherFloor = (float) Parameter.FISHER_FLOOR.defaultValue();
        private Boolean normalize;
        private DType outDtype;
        private int threads;
        private int chunkElements = 16 * 1024;
        private List<TensorParameter> densities;
        private List<TensorParameter> gammas;
        private List<TensorParameter> epsilons;
        private boolean filterWise;
        private TensorParameter t = defaultOf(Parameter.T);
        private Boolean rescale;
        private long seed;
        private final java.util.Map<Parameter, TensorParameter> numbers = new java.util.EnumMap<>(Parameter.class);
        private final java.util.Map<Parameter, Boolean> flags = new java.util.EnumMap<>(Parameter.class);
        private final java.util.Map<Parameter, List<TensorParameter>> perModelNumbers = new java.util.EnumMap<>(Parameter.class);

        private Builder(MergeMethod method) {
            this.method = Objects.requireNonNull(method, "method");
        }

        /** The base model (the one fine-tuned); needed by the methods that work on task vectors. */
        public Builder base(TensorSource base) {
            this.base = base;
            return this;
        }

        /** Adds a model; models keep the order they are added in. */
        public Builder model(TensorSource model) {
            models.add(Objects.requireNonNull(model, "model"));
            return this;
        }

        /** Adds a model's Fisher; Fishers pair with models in order. */
        public Builder fisher(TensorSource fisher) {
            fishers.add(Objects.requireNonNull(fisher, "fisher"));
            return this;
        }

        /** One weight per model, in model order (default 1 each). */
        public Builder weights(float... weights) {
            this.weights = constants(weights);
            return this;
        }

        /** One weight per model, in model order, each possibly depending on the tensor. */
        public Builder weights(TensorParameter... weights) {
            this.weights = List.of(weights);
            return this;
        }

        /** The base model's Fisher (gradient matching's {@code H0}; optional). */
        public Builder baseFisher(TensorSource baseFisher) {
            this.baseFisher = baseFisher;
            return this;
        }

        /** One Fisher scale per model, in model order (default 1 each): the factor a stored Fisher is multiplied by, e.g. its training set's size. */
        public Builder fisherScales(float... scales) {
            this.fisherScales = constants(scales);
            return this;
        }

        /** One Fisher scale per model, in model order, each possibly depending on the tensor. */
        public Builder fisherScales(TensorParameter... scales) {
            this.fisherScales = List.of(scales);
            return this;
        }

        /** The base Fisher's scale (default 1). */
        public Builder baseFisherScale(float s) {
            return baseFisherScale(TensorParameter.of(s));
        }

        /** The base Fisher's scale, possibly depending on the tensor. */
        public Builder baseFisherScale(TensorParameter s) {
            this.baseFisherScale = Objects.requireNonNull(s, "base Fisher scale");
            return this;
        }

        /** The factor of every task weight, {@code λ} (default 1). */
        public Builder lambda(float lambda) {
            return lambda(TensorParameter.of(lambda));
        }

        /** The factor of every task weight, {@code λ}, possibly depending on the tensor. */
        public Builder lambda(TensorParameter lambda) {
            this.lambda = Objects.requireNonNull(lambda, "lambda");
            return this;
        }

        /** Gradient matching's prior precision {@code δ0 ≥ 0} (default 0). */
        public Builder delta0(float delta0) {
            return delta0(TensorParameter.of(delta0));
        }

        /** Gradient matching's prior precision {@code δ0 ≥ 0}, possibly depending on the tensor. */
        public Builder delta0(TensorParameter delta0) {
            this.delta0 = Objects.requireNonNull(delta0, "delta0");
            return this;
        }

        /** Subtract the tasks instead of adding them (task_arithmetic and gradient_matching; default false). */
        public Builder remove(boolean remove) {
            this.remove = remove;
            return this;
        }

        /** Removal only: Hbar is clamped from below at {@code clampRel·P0}. Default 0.1. */
        public Builder clampRel(float clampRel) {
            this.clampRel = clampRel;
            return this;
        }

        /** Fisher averaging: the floor of every scaled Fisher (default 0). */
        public Builder fisherFloor(float floor) {
            this.fisherFloor = floor;
            return this;
        }

        /**
         * Divide by the sum of the (surviving) weights; default: the method's, as mergekit
         * ({@link MergeMethod#defaultFlag}). For task_arithmetic the weights are divided by their
         * sum (a sum under 1e-8 in size counts as 1).
         */
        public Builder normalize(boolean normalize) {
            this.normalize = normalize;
            return this;
        }

        /** Output dtype for floating tensors; default: each tensor keeps the reference model's dtype. */
        public Builder outDtype(DType outDtype) {
            this.outDtype = outDtype;
            return this;
        }

        /** Worker threads; 0 (default) means all processors. */
        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        /** Elements per work unit (default 16384). */
        public Builder chunkElements(int chunkElements) {
            this.chunkElements = chunkElements;
            return this;
        }

        /** The fraction of each task vector kept, per model in model order (default 1: no sparsification). */
        public Builder densities(TensorParameter... densities) {
            this.densities = List.of(densities);
            return this;
        }

        /** The fraction of each task vector kept, per model in model order (default 1). */
        public Builder densities(float... densities) {
            this.densities = constants(densities);
            return this;
        }

        /** breadcrumbs: the fraction of largest magnitudes dropped, per model (default 0.01). */
        public Builder gammas(TensorParameter... gammas) {
            this.gammas = List.of(gammas);
            return this;
        }

        /** breadcrumbs: the fraction of largest magnitudes dropped, per model (default 0.01). */
        public Builder gammas(float... gammas) {
            this.gammas = constants(gammas);
            return this;
        }

        /** model_stock: one t per row (the last dimension) instead of one per tensor (default false). */
        public Builder filterWise(boolean filterWise) {
            this.filterWise = filterWise;
            return this;
        }

        /**
         * della*: half-width of the keep probabilities around each model's density, in model order
         * (default 0.15); ram*: the smallest change, the same for every model (default 1e-5).
         */
        public Builder epsilons(TensorParameter... epsilons) {
            this.epsilons = List.of(epsilons);
            return this;
        }

        /** As {@link #epsilons(TensorParameter...)}. */
        public Builder epsilons(float... epsilons) {
            this.epsilons = constants(epsilons);
            return this;
        }

        /** slerp, nearswap: the interpolation parameter (default 0.5). */
        public Builder t(TensorParameter t) {
            this.t = Objects.requireNonNull(t, "t");
            return this;
        }

        /** slerp, nearswap: the interpolation parameter (default 0.5). */
        public Builder t(float t) {
            return t(TensorParameter.of(t));
        }

        /** Rescale the kept elements to the task vector's L1 norm (default: the method's, as mergekit). */
        public Builder rescale(Boolean rescale) {
            this.rescale = rescale;
            return this;
        }

        /** The seed of the random sparsifiers (default 0). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * A global number without a setter of its own (a parameter of a newer method, e.g.
         * multislerp's {@code eps}); read by {@link MergeRequest#global}.
         */
        public Builder parameter(Parameter p, TensorParameter value) {
            if (p.perModel() || p.kind() == Parameter.Kind.FLAG) {
                throw new IllegalArgumentException(p.key() + " is not a global number");
            }
            numbers.put(p, Objects.requireNonNull(value, p.key()));
            return this;
        }

        /**
         * A per-model number without a setter of its own (a parameter of a newer method, e.g.
         * passthrough's {@code scale}), one value per model in model order; read by {@link MergeRequest#perModel}.
         */
        public Builder perModel(Parameter p, TensorParameter... values) {
            if (!p.perModel()) {
                throw new IllegalArgumentException(p.key() + " is not given per model");
            }
            perModelNumbers.put(p, List.of(values));
            return this;
        }

        /** A flag without a setter of its own (e.g. multislerp's {@code normalize_weights}); read by {@link MergeRequest#flag}. */
        public Builder flag(Parameter p, boolean value) {
            if (p.kind() != Parameter.Kind.FLAG) {
                throw new IllegalArgumentException(p.key() + " is not a flag");
            }
            flags.put(p, value);
            return this;
        }

        /** The request; checks what can be checked without the tensors (counts, ranges of constants). */
        public MergeRequest build() {
            return new MergeRequest(this);
        }
    }
}
