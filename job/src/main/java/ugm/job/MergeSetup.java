package ugm.job;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import ugm.job.config.ConfigException;
import ugm.job.config.ConfigParser;
import ugm.job.config.LayerPosition;
import ugm.job.config.MergeConfig;
import ugm.job.config.ModelRef;
import ugm.core.merge.Parameter;
import ugm.job.config.Setting;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.merge.MergeRequest;
import ugm.core.merge.TensorParameter;
import ugm.core.merge.TiedWeights;
import ugm.core.merge.methods.Method;
import ugm.io.AdapterRef;
import ugm.io.Checkpoint;
import ugm.io.ModelConfig;
import ugm.io.PermutedEmbeddings;
import ugm.io.TokenizerMerge;

/**
 * Turns a {@link MergeConfig} into a {@link MergeRequest}: opens the checkpoints (closed with
 * this object), finds the Fishers, and turns each parameter setting into a per-tensor function
 * with mergekit's resolution (the model's own setting, else the slice's for {@code slices:}, else
 * the global one, else the default).
 */
final class MergeSetup implements AutoCloseable {
    private final MergeConfig config;
    private final List<Checkpoint> open = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final List<MergeConfig.Model> models = new ArrayList<>();
    private final List<Checkpoint> modelFishers = new ArrayList<>();
    private final List<String> scaleSources = new ArrayList<>();
    private final List<String> recordedScales = new ArrayList<>();
    private final List<FisherSource> fisherSources = new ArrayList<>();
    private Checkpoint baseFisher;
    private Checkpoint base;
    private OutputFiles outputFiles;
    /** Each tensor's layer position, as layer gradients read it. */
    private java.util.function.ToDoubleFunction<String> position;
    /** The number of models of the request (besides the base). */
    private int count;
    /** The output's layers, for a {@code slices:} merge; null otherwise. */
    private SliceStack stack;
    /** For a {@code slices:} merge, each slice's base source when the merge reads their Fishers, else null. */
    private List<MergeConfig.Source> sliceBaseFishers;
    /** For a {@code slices:} merge, the example count each model's Fisher records (where it records one). */
    private final Map<Path, Double> recordedExamples = new java.util.HashMap<>();
    /** For a {@code slices:} merge, each slice's sources as the request's models, in order (the base aside). */
    private List<List<MergeConfig.Source>> sliceModels;
    /** The tied weights the merge writes ({@link TiedWeights#written}). */
    private java.util.Set<String> tiedWritten = java.util.Set.of();
    private String architectureMismatch;
    /** The inputs' views with the embeddings in the output vocabulary (a tokenizer source), closed with this object. */
    private final List<PermutedEmbeddings> permuted = new ArrayList<>();
    /** Without a tokenizer source, the rows the embeddings of different sizes are cut to ({@link EmbeddingRows}). */
    private Map<String, Long> embeddingRows = Map.of();

    MergeSetup(MergeConfig config) {
        this.config = config;
        warnings.addAll(config.warnings());
    }

    List<String> warnings() {
        return warnings;
    }

    /** Output dtype of floating tensors: out_dtype, else dtype (as mergekit), else null (each keeps the base's). */
    DType outDtype() {
        DType out = ConfigParser.dtype(config.outDtype(), "out_dtype");
        return out != null ? out : ConfigParser.dtype(config.dtype(), "dtype");
    }

    MergeRequest request(int threads) {
        Method method = config.method();
        checkParameters(method);
        Path basePath = config.base() == null ? null : config.base().path();
        boolean baseSliced = config.models().stream().anyMatch(m -> m.model().path().equals(basePath)) && !config.slices().isEmpty();
        if (config.base() != null && !baseSliced) { // (a base the slices read is opened with them, once)
            base = open(config.base(), "base model");
        }
        // Checked now, not after the merge: an invalid config.json or tokenizer source ends the run here.
        outputFiles = OutputFiles.of(config, warnings);
        MergeRequest.Builder b;
        if (config.slices().isEmpty()) {
            b = modelsRequest(method, threads);
        } else {
            b = slicesRequest(method, threads);
        }
        int n = count;
        if (stack == null) {
            fishers(b, method);
        }
        TensorParameter[] weights = new TensorParameter[n];
        TensorParameter[] scales = new TensorParameter[n];
        TensorParameter[] densities = new TensorParameter[n];
        TensorParameter[] gammas = new TensorParameter[n];
        TensorParameter[] epsilons = new TensorParameter[n];
        for (int i = 0; i < n; i++) {
            weights[i] = perModel(Parameter.WEIGHT, i);
            scales[i] = fisherScale(i);
            densities[i] = perModel(Parameter.DENSITY, i);
            gammas[i] = perModel(Parameter.GAMMA, i);
            epsilons[i] = perModel(Parameter.EPSILON, i);
        }
        b.densities(densities).gammas(gammas).epsilons(epsilons).t(global(Parameter.T)).seed(seed())
                .rescale(flag(Parameter.RESCALE, method)).normalize(flag(Parameter.NORMALIZE, method));
        b.weights(weights).fisherScales(scales).lambda(global(Parameter.LAMBDA)).delta0(global(Parameter.DELTA0))
                .baseFisherScale(baseFisherScale()).remove(flag(Parameter.REMOVE, method))
                .filterWise(flag(Parameter.FILTER_WISE, method))
                .clampRel((float) scalar(Parameter.CLAMP)).fisherFloor((float) scalar(Parameter.FISHER_FLOOR));
        for (Parameter p : method.parameters()) {
            if (!SET_ABOVE.contains(p)) { // a newer method's parameter: passed on as it is, by name
                if (p.kind() == Parameter.Kind.FLAG) {
                    b.flag(p, flag(p, method));
                } else if (!p.perModel()) {
                    b.parameter(p, global(p));
                } else {
                    TensorParameter[] values = new TensorParameter[n];
                    for (int i = 0; i < n; i++) {
                        values[i] = perModel(p, i);
                    }
                    b.perModel(p, values);
                }
            }
        }
        return b.build();
    }

    /** A {@code models:} merge: the models and the base as they are. */
    private MergeRequest.Builder modelsRequest(Method method, int threads) {
        for (MergeConfig.Model m : config.models()) {
            if (method.needsBase() && config.base() != null && m.model().path().equals(config.base().path())) {
                if (method.baseAmongModels()) {
                    continue; // mergekit lists the base among slerp's and nearswap's two models
                }
                warnings.add("base_model " + m.model() + " is also in models; as in mergekit it is the base, not a task");
                continue;
            }
            models.add(m);
        }
        if (models.isEmpty()) {
            throw new ConfigException("no model to merge besides the base");
        }
        List<Checkpoint> opened = new ArrayList<>();
        for (MergeConfig.Model m : models) {
            opened.add(open(m.model(), "model"));
        }
        checkArchitectures();
        List<Checkpoint> inputs = new ArrayList<>(opened);
        if (base != null) {
            inputs.add(base);
        }
        tiedWritten = TiedWeights.written(inputs);
        warnTiedConfig();
        List<TensorSource> views = new ArrayList<>();
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < opened.size(); i++) {
            views.add(tied(opened.get(i)));
            paths.add(models.get(i).model().path());
        }
        if (base != null) {
            views.add(tied(base));
            paths.add(config.base().path());
        }
        views = inOutputVocabulary(paths, views, false);
        if (outputFiles.embeddings() == null) {
            embeddingRows = EmbeddingRows.rows(views, base != null, method, warnings);
            views = views.stream().map(v -> EmbeddingRows.view(v, embeddingRows)).toList();
        }
        TensorSource reference = base == null ? null : views.getLast();
        MergeRequest.Builder b = MergeRequest.builder(method).base(reference).threads(threads).outDtype(outDtype());
        for (int i = 0; i < opened.size(); i++) {
            TensorSource model = views.get(i);
            reference = reference == null ? model : reference;
            b.model(model);
        }
        LayerPosition position = LayerPosition.of(reference.tensors().stream().map(TensorInfo::name).toList());
        this.position = position::t;
        count = models.size();
        return b;
    }

    /**
     * With a tokenizer source, {@code views} (of the inputs at {@code paths}; null where an input has
     * none, as a Fisher may be) with their embeddings' rows in the output vocabulary
     * ({@link PermutedEmbeddings}); {@code views} as they are otherwise. With {@code fishers}, a default
     * row that reads an input without a view is the mean of those of the inputs with one that have the token.
     */
    private List<TensorSource> inOutputVocabulary(List<Path> paths, List<TensorSource> views, boolean fishers) {
        OutputFiles.Embeddings e = outputFiles.embeddings();
        if (e == null) {
            return views;
        }
        List<TensorSource> raw = new ArrayList<>(java.util.Collections.nCopies(e.inputs().size(), (TensorSource) null));
        boolean[] given = new boolean[raw.size()];
        for (int i = 0; i < views.size(); i++) {
            int at = e.index(paths.get(i));
            if (views.get(i) != null) {
                raw.set(at, views.get(i));
                given[at] = true;
            }
        }
        TokenizerMerge.Plan plan = fishers ? e.plan().restrictedTo(given) : e.plan();
        List<TensorSource> out = new ArrayList<>();
        for (int i = 0; i < views.size(); i++) {
            if (views.get(i) == null) {
                out.add(null);
                continue;
            }
            PermutedEmbeddings p = new PermutedEmbeddings(views.get(i), e.index(paths.get(i)), raw, plan, TiedWeights.embeddings());
            permuted.add(p);
            out.add(p.changes() ? p : views.get(i));
        }
        return out;
    }

    /**
     * A {@code slices:} merge: model i of the request shows, in each output layer, source i of
     * its slice (the slice's base aside), renamed into the output's layer numbering
     * ({@link SliceStack}); the base likewise shows each slice's base source. Every slice must
     * have as many sources and agree on having a base among them.
     */
    private MergeRequest.Builder slicesRequest(Method method, int threads) {
        if (config.baseFisher() != null) {
            throw new ConfigException("base_fisher with slices is not supported yet: each slice's base reads <base>/hessian");
        }
        stack = new SliceStack(config.slices());
        Map<Path, Checkpoint> opened = new java.util.LinkedHashMap<>();
        for (MergeConfig.Model m : config.models()) {
            opened.put(m.model().path(), open(m.model(), "model"));
            models.add(m);
        }
        if (base != null) {
            opened.put(config.base().path(), base);
        }
        checkArchitectures();
        tiedWritten = TiedWeights.written(opened.values());
        warnTiedConfig();
        Map<Path, TensorSource> views = new java.util.LinkedHashMap<>();
        Map<Path, Integer> layerCounts = new java.util.LinkedHashMap<>();
        for (Map.Entry<Path, Checkpoint> e : opened.entrySet()) {
            TensorSource v = tied(e.getValue());
            int layers = LayerPosition.of(v.tensors().stream().map(TensorInfo::name).toList()).layers();
            if (layers == 0) {
                throw new ConfigException(e.getKey() + ": no layer tensors found (named " + LayerPosition.NAMING
                        + "); ugm cannot slice this model");
            }
            views.put(e.getKey(), v);
            layerCounts.put(e.getKey(), layers);
        }
        requireUnchangedEmbeddings(views);
        List<MergeConfig.Slice> slices = config.slices();
        int k = slices.size();
        Integer models = null;
        Boolean hasBase = null;
        List<List<MergeConfig.Source>> modelSources = new ArrayList<>();
        MergeConfig.Source[] baseSources = new MergeConfig.Source[k];
        for (int s = 0; s < k; s++) {
            MergeConfig.Slice slice = slices.get(s);
            Path sliceBase = slice.base() != null ? slice.base() : config.base() == null ? null : config.base().path();
            List<MergeConfig.Source> own = new ArrayList<>();
            for (int j = 0; j < slice.sources().size(); j++) {
                MergeConfig.Source src = slice.sources().get(j);
                int layers = layerCounts.get(src.path());
                if (src.to() > layers) {
                    throw new ConfigException("slices[" + s + "].sources[" + j + "].layer_range [" + src.from() + ", " + src.to()
                            + "] is beyond the " + layers + " layers of " + src.path());
                }
                if (method.takesBase() && src.path().equals(sliceBase) && baseSources[s] == null) {
                    baseSources[s] = src;
                    if (method.needsBase()) {
                        continue;
                    }
                }
                own.add(src);
            }
            if (method.needsBase() && baseSources[s] == null) {
                throw new ConfigException("slices[" + s + "]: " + method + " needs a base, and "
                        + (sliceBase == null ? "none is given" : "base_model " + sliceBase + " is not among its sources")
                        + " (mergekit takes a slice's base from its sources)");
            }
            if (models != null && (models != own.size() || hasBase != (baseSources[s] != null))) {
                throw new ConfigException("slices[" + s + "] has " + own.size() + " source(s) to merge" + (baseSources[s] != null
                        ? " and a base" : "") + ", slices[0] " + models + (hasBase ? " and a base" : "")
                        + "; ugm needs every slice to have as many");
            }
            models = own.size();
            hasBase = baseSources[s] != null;
            modelSources.add(own);
        }
        sliceModels = modelSources;
        TensorSource baseView = null;
        if (hasBase) {
            baseView = stackView(views, layerCounts, java.util.Arrays.asList(baseSources));
        }
        MergeRequest.Builder b = MergeRequest.builder(method).base(baseView).threads(threads).outDtype(outDtype());
        for (int i = 0; i < models; i++) {
            int at = i;
            b.model(stackView(views, layerCounts, modelSources.stream().map(l -> l.get(at)).toList()));
        }
        if (method.needsFishers()) {
            Map<Path, TensorSource> fishers = new java.util.LinkedHashMap<>();
            for (List<MergeConfig.Source> sources : modelSources) {
                for (MergeConfig.Source src : sources) {
                    fishers.computeIfAbsent(src.path(), p -> sliceFisher(p, method));
                }
            }
            for (int i = 0; i < models; i++) {
                int at = i;
                b.fisher(stackView(fishers, layerCounts, modelSources.stream().map(l -> l.get(at)).toList()));
            }
            if (hasBase && java.util.Arrays.stream(baseSources).allMatch(src -> Files.isDirectory(AdapterRef.fisherFolder(src.path())))) {
                for (MergeConfig.Source src : baseSources) {
                    fishers.computeIfAbsent(src.path(), p -> sliceFisher(p, method));
                }
                b.baseFisher(stackView(fishers, layerCounts, java.util.Arrays.asList(baseSources)));
                sliceBaseFishers = java.util.Arrays.asList(baseSources);
            }
        }
        position = stack::t;
        count = models;
        return b;
    }

    /**
     * With a tokenizer source, a {@code slices:} merge is taken only where the output vocabulary
     * is the chosen tokenizer's and changes no input's embeddings (rebuilding them for slices is not supported yet).
     */
    private void requireUnchangedEmbeddings(Map<Path, TensorSource> views) {
        OutputFiles.Embeddings e = outputFiles.embeddings();
        if (e == null) {
            return;
        }
        for (Map.Entry<Path, TensorSource> v : views.entrySet()) {
            int at = e.index(v.getKey());
            if (at < 0) {
                continue;
            }
            try (PermutedEmbeddings p = new PermutedEmbeddings(v.getValue(), at, List.of(), e.plan(), TiedWeights.embeddings())) {
                if (p.changes() || !e.output().unchanged()) {
                    throw new ConfigException((config.tokenizerSource() != null ? "tokenizer_source" : "tokenizer.source")
                            + " with slices is supported only when it changes no embeddings; " + v.getKey()
                            + "'s would be rebuilt for the output vocabulary, which ugm does not do for slices yet");
                }
            }
        }
    }

    /**
     * The Fisher of a model the slices read: {@code <model>/hessian} (found as for {@code models:},
     * by {@link AdapterRef#fisherFolder}), opened once. The example
     * count it records is the default scale (fisher_scale, or base_fisher_scale for a base) where
     * no parameter sets one.
     */
    private TensorSource sliceFisher(Path model, Method method) {
        Path f = AdapterRef.fisherFolder(model);
        if (!Files.exists(f)) {
            throw new UgmException(UgmException.Kind.USAGE, method + " needs a Fisher for " + model + ": put it in " + f);
        }
        Checkpoint fisher = open(f, "Fisher");
        Double examples = ugm.io.fisher.FisherMetadata.examples(fisher.metadata());
        String who = "the scale of " + f + " where no parameter sets one: ";
        if (examples == null) {
            scaleSources.add(who + "the default (it records no example count)");
        } else {
            recordedExamples.put(model, examples);
            String line = who + ugm.io.fisher.FisherMetadata.format(examples) + ", the example count it records";
            scaleSources.add(line);
            recordedScales.add(line);
        }
        return tied(fisher);
    }

    /** The output's tensors as {@code sources} (one per slice) give them. */
    private TensorSource stackView(Map<Path, TensorSource> views, Map<Path, Integer> layerCounts, List<MergeConfig.Source> sources) {
        return stack.view(sources.stream().map(src -> views.get(src.path())).toList(),
                sources.stream().mapToInt(MergeConfig.Source::from).toArray(),
                sources.stream().mapToInt(src -> layerCounts.get(src.path())).toArray());
    }

    /** The parameters {@link #request} sets through the builder's own setters. */
    private static final java.util.Set<Parameter> SET_ABOVE = java.util.EnumSet.of(Parameter.WEIGHT, Parameter.FISHER_SCALE,
            Parameter.DENSITY, Parameter.GAMMA, Parameter.EPSILON, Parameter.LAMBDA, Parameter.DELTA0, Parameter.BASE_FISHER_SCALE,
            Parameter.T, Parameter.NORMALIZE, Parameter.RESCALE, Parameter.RANDOM_SEED, Parameter.FILTER_WISE, Parameter.REMOVE,
            Parameter.CLAMP, Parameter.FISHER_FLOOR);

    /** Every checkpoint opened (models, Fishers, the base), with the files it reads; for the output's overlap check. */
    List<Path> inputs() {
        List<Path> paths = new ArrayList<>();
        for (Checkpoint c : open) {
            paths.addAll(c.inputs());
        }
        if (outputFiles != null) {
            paths.addAll(outputFiles.inputs());
        }
        return paths;
    }

    /** Every opened checkpoint's files are still those read (before the output is published). */
    void requireUnchanged() {
        open.forEach(c -> c.requireUnchanged("merge"));
    }

    /** The output's files besides the weights (config, tokenizer, ...), chosen and checked by {@link #request}. */
    OutputFiles outputFiles() {
        return outputFiles;
    }

    private void checkParameters(Method method) {
        List<Map<String, Setting>> all = new ArrayList<>();
        all.add(config.parameters());
        config.models().forEach(m -> all.add(m.parameters()));
        for (int i = 0; i < config.slices().size(); i++) {
            MergeConfig.Slice slice = config.slices().get(i);
            all.add(slice.parameters());
            slice.sources().forEach(src -> all.add(src.parameters()));
            for (String k : slice.parameters().keySet()) {
                Parameter p = Parameter.byKey(k);
                if (p != null && method.reads(p) && p.kind() != Parameter.Kind.NUMBER) {
                    throw new ConfigException("slices[" + i + "].parameters." + k + ": ugm reads " + k
                            + " from the top-level parameters only");
                }
            }
        }
        java.util.Set<String> warned = new java.util.TreeSet<>();
        for (Map<String, Setting> params : all) {
            for (String k : params.keySet()) {
                Parameter p = Parameter.byKey(k);
                if (p == Parameter.REMOVE && !method.reads(p) && ((Setting.Flag) params.get(k)).value()) {
                    throw new ConfigException("remove applies to gradient_matching and task_arithmetic, not " + method);
                }
                if ((p == null || !method.reads(p)) && warned.add(k)) {
                    warnings.add("parameter '" + k + "' does not apply to " + method + "; ignored (" + method + " reads "
                            + String.join(", ", method.parameters().stream().map(Parameter::key).toList()) + ")");
                }
            }
        }
    }

    private void fishers(MergeRequest.Builder b, Method method) {
        if (!method.needsFishers()) {
            if (config.baseFisher() != null || models.stream().anyMatch(m -> m.fisher() != null)) {
                throw new UgmException(UgmException.Kind.USAGE, method + " takes no Fishers; drop --fisher/--base-fisher (fisher/base_fisher)");
            }
            return;
        }
        List<TensorSource> views = new ArrayList<>();
        List<Path> paths = new ArrayList<>();
        for (MergeConfig.Model m : models) {
            Path f = AdapterRef.fisherFolder(m.model().path());
            if (m.fisher() == null && !Files.exists(f)) {
                throw new UgmException(UgmException.Kind.USAGE, method + " needs a Fisher for " + m.model()
                        + ": give one (--fisher, or fisher: in the config), or put it in " + f);
            }
            Checkpoint fisher = m.fisher() != null ? open(m.fisher(), "Fisher") : open(f, "Fisher");
            fisherSources.add(new FisherSource(m.model().toString(), m.fisher() != null ? m.fisher().toString() : f.toString()));
            modelFishers.add(fisher);
            views.add(EmbeddingRows.view(tied(fisher), embeddingRows));
            paths.add(m.model().path());
        }
        if (config.baseFisher() != null) {
            baseFisher = open(config.baseFisher(), "base Fisher");
        } else if (config.base() != null && Files.isDirectory(AdapterRef.fisherFolder(config.base().path()))) {
            baseFisher = open(AdapterRef.fisherFolder(config.base().path()), "base Fisher");
        }
        if (config.base() != null) {
            views.add(baseFisher == null ? null : EmbeddingRows.view(tied(baseFisher), embeddingRows));
            paths.add(config.base().path());
        }
        views = inOutputVocabulary(paths, views, true);
        for (int i = 0; i < models.size(); i++) {
            b.fisher(views.get(i));
        }
        if (baseFisher != null) {
            b.baseFisher(config.base() != null ? views.getLast() : EmbeddingRows.view(tied(baseFisher), embeddingRows));
            fisherSources.add(new FisherSource(config.base() == null ? "the base" : config.base().toString(),
                    config.baseFisher() != null ? config.baseFisher().toString() : baseFisher.path().toString()));
        }
    }

    /** The Fisher read for a model (or the base): both as the config names them, or as paths. */
    record FisherSource(String model, String fisher) {
    }

    /** The Fishers the merge reads, the models' in order, then the base's. */
    List<FisherSource> fisherSources() {
        return fisherSources;
    }

    private Checkpoint open(ModelRef ref, String role) {
        if (ref.missing() != null) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, role + " " + ref.missing());
        }
        return open(ref.path(), role, AdapterRef.parse(ref.path()));
    }

    /**
     * {@code c} as the merge reads it: each tied weight the merge writes that {@code c} lacks is
     * the tensor it is tied to there (said in a warning).
     */
    private TensorSource tied(Checkpoint c) {
        Map<String, String> ties = TiedWeights.ties(c, tiedWritten);
        ties.forEach((name, to) -> warnings.add(c.path() + " has no " + name + "; its " + to
                + " stands for it (the two are tied in its model, as mergekit reads tied weights)"));
        return TiedWeights.view(c, ties);
    }

    /** The base's config.json ties the head to the embeddings while the merge writes a head: transformers will not read it. */
    private void warnTiedConfig() {
        ModelConfig c = config.base() == null || tiedWritten.isEmpty() ? null : ModelConfig.read(config.base().folder());
        if (c != null && Boolean.TRUE.equals(c.tieWordEmbeddings())) {
            warnings.add("the merge writes " + String.join(", ", tiedWritten) + " (an input has its own), but " + c.file()
                    + " has tie_word_embeddings: true, copied as it is (as mergekit does), so transformers will use the merged"
                    + " embeddings in its place");
        }
    }

    /**
     * Compares the architectures the models' and the base's config.json name ({@code architectures},
     * {@code model_type}); inputs without a config.json are not compared. The first difference is kept
     * for {@link #architectureMismatch}.
     */
    private void checkArchitectures() {
        List<Path> paths = new ArrayList<>();
        if (config.base() != null) {
            paths.add(config.base().folder());
        }
        models.forEach(m -> paths.add(m.model().folder()));
        Map<Path, ModelConfig> seen = new java.util.LinkedHashMap<>();
        for (Path p : paths) {
            ModelConfig c = ModelConfig.read(p);
            if (c == null || !c.namesArchitecture()) {
                continue;
            }
            for (Map.Entry<Path, ModelConfig> e : seen.entrySet()) {
                if (!e.getValue().sameArchitecture(c)) {
                    architectureMismatch = "models of different architectures: " + e.getKey() + " is " + e.getValue().architecture()
                            + ", " + p + " is " + c.architecture();
                    warnings.add(architectureMismatch);
                    return;
                }
            }
            seen.put(p, c);
        }
    }

    /** The first two inputs whose config.json name different architectures, as one line; null when they all agree. */
    String architectureMismatch() {
        return architectureMismatch;
    }

    private Checkpoint open(Path p, String role) {
        return open(p, role, null);
    }

    private Checkpoint open(Path p, String role, AdapterRef lora) {
        for (Path part : lora == null ? List.of(p) : List.of(lora.base(), lora.adapter())) {
            if (!Files.exists(part)) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, role + " not found: " + part);
            }
        }
        Checkpoint c = lora == null ? Checkpoint.open(p) : Checkpoint.open(lora.base(), lora.adapter());
        open.add(c);
        return c;
    }

    /** Where each Fisher scale came from, one line per model (and the base Fisher), for the dry run. */
    List<String> scaleSources() {
        return scaleSources;
    }

    /**
     * Model i's fisher_scale: its own or the global setting, else the example count its Fisher
     * records ({@code ugm fisher}'s metadata), else the default.
     */
    private TensorParameter fisherScale(int i) {
        if (stack != null) {
            return sliced(Parameter.FISHER_SCALE, i);
        }
        if (i >= modelFishers.size()) {
            return perModel(Parameter.FISHER_SCALE, i); // the method takes no Fishers
        }
        String who = "fisher_scale of " + models.get(i).model();
        if (models.get(i).parameters().get(Parameter.FISHER_SCALE.key()) != null) {
            scaleSources.add(who + ": given (--fisher-scale, or fisher_scale in its parameters)");
        } else if (config.parameters().get(Parameter.FISHER_SCALE.key()) != null) {
            scaleSources.add(who + ": given (fisher_scale in the global parameters)");
        } else {
            TensorParameter recorded = recordedScale(modelFishers.get(i), who, Parameter.FISHER_SCALE);
            if (recorded != null) {
                return recorded;
            }
        }
        return perModel(Parameter.FISHER_SCALE, i);
    }

    private TensorParameter baseFisherScale() {
        if (stack != null) {
            return sliced(Parameter.BASE_FISHER_SCALE, -1);
        }
        if (config.parameters().get(Parameter.BASE_FISHER_SCALE.key()) == null && baseFisher != null) {
            TensorParameter recorded = recordedScale(baseFisher, "base_fisher_scale of " + config.base(), Parameter.BASE_FISHER_SCALE);
            if (recorded != null) {
                return recorded;
            }
        } else if (baseFisher != null) {
            scaleSources.add("base_fisher_scale of " + config.base() + ": given (--base-fisher-scale, or base_fisher_scale)");
        }
        return global(Parameter.BASE_FISHER_SCALE);
    }

    /** The example count a Fisher records, as the scale; null (and a line saying the default applies) when it records none. */
    private TensorParameter recordedScale(Checkpoint fisher, String who, Parameter p) {
        Double examples = ugm.io.fisher.FisherMetadata.examples(fisher.metadata());
        if (examples == null) {
            scaleSources.add(who + ": " + ugm.io.fisher.FisherMetadata.format(p.defaultValue()) + ", the default ("
                    + fisher.path() + " records no example count)");
            return null;
        }
        String from = fisher.metadata().get(ugm.io.fisher.FisherMetadata.EXAMPLES_FROM);
        String line = who + ": " + ugm.io.fisher.FisherMetadata.format(examples) + ", the example count its Fisher "
                + fisher.path() + " records" + (from == null ? "" : " (" + from + ")");
        scaleSources.add(line);
        recordedScales.add(line);
        return TensorParameter.of(examples.floatValue());
    }

    /** The scales taken from what a Fisher records (printed by a merge, as they are not in the config). */
    List<String> recordedScales() {
        return recordedScales;
    }

    private TensorParameter perModel(Parameter p, int model) {
        if (stack != null) {
            return sliced(p, model);
        }
        Setting own = models.get(model).parameters().get(p.key());
        Setting global = config.parameters().get(p.key());
        return parameter(own, global, config.method().defaultValue(p));
    }

    private TensorParameter global(Parameter p) {
        if (stack != null) {
            return sliced(p, -1);
        }
        return parameter(null, config.parameters().get(p.key()), config.method().defaultValue(p));
    }

    /**
     * mergekit's resolution in a {@code slices:} merge: the first of the source's own setting
     * ({@code model} ≥ 0: the request's model, which is one source of each slice), its slice's,
     * the global one and the default that gives a value for the tensor, t its position within its slice.
     * As in mergekit, a per-model parameter's filters (at every level) are matched against the
     * tensor's name in the source (its own layer number), a global parameter's against the output's.
     */
    private TensorParameter sliced(Parameter p, int model) {
        List<List<Setting>> chains = new ArrayList<>();
        for (int s = 0; s < config.slices().size(); s++) {
            List<Setting> chain = new ArrayList<>();
            if (model >= 0) {
                chain.add(sliceModels.get(s).get(model).parameters().get(p.key()));
            }
            chain.add(config.slices().get(s).parameters().get(p.key()));
            chain.add(config.parameters().get(p.key()));
            chain.removeIf(java.util.Objects::isNull);
            chains.add(chain);
        }
        double[] fallback = new double[config.slices().size()];
        for (int s = 0; s < fallback.length; s++) {
            Path fisherOf = p == Parameter.FISHER_SCALE && model >= 0 ? sliceModels.get(s).get(model).path()
                    : p == Parameter.BASE_FISHER_SCALE && sliceBaseFishers != null ? sliceBaseFishers.get(s).path() : null;
            double byDefault = config.method().defaultValue(p);
            fallback[s] = fisherOf == null ? byDefault : recordedExamples.getOrDefault(fisherOf, byDefault);
        }
        if (chains.stream().allMatch(List::isEmpty) && java.util.Arrays.stream(fallback).allMatch(f -> f == fallback[0])) {
            return TensorParameter.of((float) fallback[0]);
        }
        SliceStack st = stack;
        List<List<MergeConfig.Source>> sources = sliceModels;
        return tensor -> {
            double t = st.t(tensor);
            int s = st.sliceOf(tensor);
            String name = model < 0 ? tensor : st.sourceName(tensor, s, sources.get(s).get(model));
            for (Setting setting : chains.get(s)) {
                Object v = setting.evaluate(name, t);
                if (v != null) {
                    return (float) (double) (Double) v;
                }
            }
            return (float) fallback[s];
        };
    }

    /** mergekit's resolution: the first of own, global, default that gives a value for the tensor. */
    private TensorParameter parameter(Setting own, Setting global, double fallback) {
        Setting first = own != null ? own : global;
        if (first == null || first.isConstant()) {
            return TensorParameter.of((float) (first == null ? fallback : (Double) first.evaluate("", 0)));
        }
        java.util.function.ToDoubleFunction<String> pos = position;
        return tensor -> {
            double t = pos.applyAsDouble(tensor);
            Object v = own == null ? null : own.evaluate(tensor, t);
            if (v == null && global != null) {
                v = global.evaluate(tensor, t);
            }
            return (float) (v == null ? fallback : (Double) v);
        };
    }

    /** The flag as the config sets it, else the method's default. */
    private boolean flag(Parameter p, Method method) {
        Setting s = config.parameters().get(p.key());
        return s == null ? method.defaultFlag(p) : ((Setting.Flag) s).value();
    }

    private long seed() {
        Setting s = config.parameters().get(Parameter.RANDOM_SEED.key());
        return s == null ? 0 : ((Setting.Whole) s).value();
    }

    private double scalar(Parameter p) {
        Setting s = config.parameters().get(p.key());
        return s == null ? config.method().defaultValue(p) : ((Setting.Number) s).value();
    }

    @Override
    public void close() {
        permuted.forEach(PermutedEmbeddings::close);
        open.forEach(Checkpoint::close);
    }
}
