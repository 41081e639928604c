package ugm.core.merge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import ugm.core.DType;
import ugm.core.TensorSource;
import ugm.core.UgmException;

/**
 * Everything a merge needs: the method, the open inputs and the parameters. Build one with
 * {@link #builder(Method)}; {@link MergePlan#of(MergeRequest)} checks it against the tensors.
 */
public final class MergeRequest {
    final Method method;
    final TensorSource base;
    final List<TensorSource> models;
    final float[] weights;
    final List<TensorSource> fishers;
    final TensorSource baseFisher;
    final float[] fisherScales;
    final float baseFisherScale;
    final float lambda;
    final float delta0;
    final boolean remove;
    final float clampRel;
    final float fisherFloor;
    final boolean normalize;
    final DType outDtype;
    final int threads;
    final int chunkElements;

    private MergeRequest(Builder b) {
        method = b.method;
        base = b.base;
        models = List.copyOf(b.models);
        int t = models.size();
        weights = b.weights == null ? filled(t, 1f) : b.weights.clone();
        fishers = List.copyOf(b.fishers);
        baseFisher = b.baseFisher;
        fisherScales = b.fisherScales == null ? filled(t, 1f) : b.fisherScales.clone();
        baseFisherScale = b.baseFisherScale;
        lambda = b.lambda;
        delta0 = b.delta0;
        remove = b.remove;
        clampRel = b.clampRel;
        fisherFloor = b.fisherFloor;
        normalize = b.normalize;
        outDtype = b.outDtype;
        threads = b.threads > 0 ? b.threads : Runtime.getRuntime().availableProcessors();
        chunkElements = b.chunkElements;
        check();
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    private void check() {
        if (models.isEmpty()) {
            throw usage("at least one model is needed");
        }
        if (method.needsBase() && base == null) {
            throw usage(method + " needs a base model");
        }
        if (weights.length != models.size()) {
            throw usage(weights.length + " weights for " + models.size() + " models; give one per model, in model order");
        }
        if (fisherScales.length != models.size()) {
            throw usage(fisherScales.length + " Fisher scales for " + models.size() + " models; give one per model, in model order");
        }
        if (method.needsFishers() && fishers.size() != models.size()) {
            throw usage(method + " needs a Fisher for every model: " + fishers.size() + " given for " + models.size() + " models");
        }
        if (method == Method.FISHER_WITH_BASE && baseFisher == null) {
            throw usage(method + " needs a base Fisher");
        }
        if (remove && !method.supportsRemove()) {
            throw usage("remove applies to gradient_matching and task_arithmetic, not " + method);
        }
        if (outDtype != null && !outDtype.isMergeable()) {
            throw usage("output dtype must be one of BF16, F16, F32, F64, not " + outDtype);
        }
        requireFinite("lambda", lambda);
        requireNonNegative("delta0", delta0);
        requireNonNegative("fisher floor", fisherFloor);
        requireNonNegative("base Fisher scale", baseFisherScale);
        if (!(clampRel > 0 && clampRel <= 1)) {
            throw usage("the removal clamp must be in (0, 1], not " + clampRel);
        }
        for (int i = 0; i < models.size(); i++) {
            requireFinite("weight of model " + (i + 1), weights[i]);
            requireNonNegative("Fisher scale of model " + (i + 1), fisherScales[i]);
        }
        if (method == Method.LINEAR && normalize) {
            double sum = 0;
            for (float w : weights) {
                sum += w;
            }
            if (sum == 0) {
                throw usage("linear with normalize needs weights that do not sum to 0");
            }
        }
        if (chunkElements < 64) {
            throw usage("chunk size must be at least 64 elements");
        }
    }

    private static void requireFinite(String what, float v) {
        if (!Float.isFinite(v)) {
            throw usage(what + " must be a finite number, not " + v);
        }
    }

    private static void requireNonNegative(String what, float v) {
        if (!(v >= 0) || Float.isInfinite(v)) {
            throw usage(what + " must be a finite number >= 0, not " + v);
        }
    }

    private static UgmException usage(String message) {
        return new UgmException(UgmException.Kind.USAGE, message);
    }

    public Method method() {
        return method;
    }

    public int threads() {
        return threads;
    }

    /** The tensor list the output follows: the base's, or the first model's when there is no base. */
    TensorSource reference() {
        return base != null ? base : models.get(0);
    }

    public static Builder builder(Method method) {
        return new Builder(method);
    }

    /** Collects a request; every setter is optional except the models (and the base where the method needs one). */
    public static final class Builder {
        private final Method method;
        private TensorSource base;
        private final List<TensorSource> models = new ArrayList<>();
        private float[] weights;
        private final List<TensorSource> fishers = new ArrayList<>();
        private TensorSource baseFisher;
        private float[] fisherScales;
        private float baseFisherScale = 1f;
        private float lambda = 1f;
        private float delta0 = 0f;
        private boolean remove;
        private float clampRel = 0.1f;
        private float fisherFloor = 0f;
        private boolean normalize = true;
        private DType outDtype;
        private int threads;
        private int chunkElements = 16 * 1024;

        private Builder(Method method) {
            this.method = Objects.requireNonNull(method, "method");
        }

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

        public Builder weights(float... weights) {
            this.weights = weights.clone();
            return this;
        }

        public Builder baseFisher(TensorSource baseFisher) {
            this.baseFisher = baseFisher;
            return this;
        }

        public Builder fisherScales(float... scales) {
            this.fisherScales = scales.clone();
            return this;
        }

        public Builder baseFisherScale(float s) {
            this.baseFisherScale = s;
            return this;
        }

        public Builder lambda(float lambda) {
            this.lambda = lambda;
            return this;
        }

        public Builder delta0(float delta0) {
            this.delta0 = delta0;
            return this;
        }

        public Builder remove(boolean remove) {
            this.remove = remove;
            return this;
        }

        /** Removal only: Hbar is clamped from below at {@code clampRel·P0}. Default 0.1. */
        public Builder clampRel(float clampRel) {
            this.clampRel = clampRel;
            return this;
        }

        public Builder fisherFloor(float floor) {
            this.fisherFloor = floor;
            return this;
        }

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

        public MergeRequest build() {
            return new MergeRequest(this);
        }
    }
}
