package ugm.io.fisher;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.TensorSink;
import ugm.core.UgmException;
import ugm.io.Checkpoint;
import ugm.io.CheckpointFile;
import ugm.io.TorchFile;
import ugm.io.TorchStateDict;
import ugm.io.TorchValue;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.ListValue;
import ugm.io.TorchValue.StrValue;
import ugm.io.TorchValue.TensorValue;
import ugm.io.fisher.ParamOrder.Param;

/**
 * A diagonal Fisher read from what training leaves behind, ready to be written as a checkpoint
 * with the model's tensor names and shapes ({@link #write}). The sources:
 * <ul>
 *   <li>an Adam/AdamW {@code optimizer.pt} (a Hugging Face Trainer's {@code checkpoint-N/}):
 *       {@code exp_avg_sq / (1 - beta2^step)}; states keyed by ids are named by
 *       {@link ParamOrder}, states keyed by names (FSDP) as they are;</li>
 *   <li>an IVON {@code optimizer.pt}: each group's {@code hess}, cut back into its parameters;</li>
 *   <li>a DeepSpeed universal checkpoint, {@code zero/<name>/exp_avg_sq.pt} (and {@code step.pt}):
 *       bias-corrected as Adam's;</li>
 *   <li>a ready {@code exp_avg_sq.safetensors} keyed by names: bias-corrected with the step and
 *       β2 given.</li>
 * </ul>
 * Every input stays mapped until {@link #close}: the values are computed from the mappings while
 * they are written, never held on the heap.
 *
 * <p>Not thread-safe: one thread opens, writes and closes it.
 */
public final class FisherSource implements AutoCloseable {

    /** What the Fisher is made of; {@link #id} is recorded in the metadata. */
    public enum Kind {
        /** Adam or AdamW: the bias-corrected {@code exp_avg_sq}. */
        ADAM("adam_exp_avg_sq", "Adam/AdamW optimizer state (exp_avg_sq)"),
        /** IVON: each group's {@code hess}. */
        IVON("ivon_hess", "IVON optimizer state (hess)"),
        /** A DeepSpeed universal checkpoint's {@code exp_avg_sq}, bias-corrected. */
        DEEPSPEED_UNIVERSAL("deepspeed_universal_exp_avg_sq", "DeepSpeed universal checkpoint (zero/<name>/exp_avg_sq.pt)"),
        /** Ready {@code exp_avg_sq} tensors keyed by parameter names, bias-corrected with the step and β2 given. */
        EXP_AVG_SQ("exp_avg_sq", "exp_avg_sq tensors keyed by parameter names");

        /** The name recorded in the Fisher's metadata. */
        public final String id;
        /** How messages describe it. */
        public final String description;

        Kind(String id, String description) {
            this.id = id;
            this.description = description;
        }
    }

    /**
     * What to read and how.
     *
     * @param checkpoint       a checkpoint folder ({@code optimizer.pt}, {@code zero/}, {@code exp_avg_sq.safetensors})
     *                         or one of those files
     * @param model            the model whose names and shapes the Fisher takes; null: the checkpoint folder's
     * @param paramOrder       null, or the parameter order: a text file of names, or a torch.save state dict
     * @param allowMissing     write zeros for parameters without optimizer state instead of stopping
     * @param examples         null, or the number of training examples to record
     * @param batch            null, or the examples per optimizer step (for the estimate from trainer_state.json)
     * @param step             null, or the step of a source that records none
     * @param beta2            null, or β2 of a source that records none
     * @param noBiasCorrection take exp_avg_sq as stored
     * @param dtype            the output dtype (BF16, F16, F32 or F64)
     */
    public record Options(Path checkpoint, Path model, Path paramOrder, boolean allowMissing, Long examples, Long batch,
                          Long step, Double beta2, boolean noBiasCorrection, DType dtype) {
    }

    /** An output tensor and how its values are made. */
    public record Output(TensorInfo info, Recipe recipe) {
    }

    /** How an output tensor's values are made. */
    public sealed interface Recipe permits Scaled, Zeros {
    }

    /** {@code data[i] x factor}: {@code data} holds the tensor's elements in {@code dtype}. */
    public record Scaled(MemorySegment data, DType dtype, double factor, FileCheck file, String parameter) implements Recipe {
    }

    /** Zeros, and why (a buffer, no optimizer state). */
    public record Zeros(String why) implements Recipe {
    }

    /** What {@link #write} wrote: bytes, and how many nonzero values the output dtype rounded to zero. */
    public record Written(long bytes, long flushedToZero) {
    }

    /** A file read, and whether it changed on disk since it was opened. */
    public record FileCheck(String path, BooleanSupplier changed) {
    }

    private static final List<String> MODEL_FILES = List.of(Checkpoint.SINGLE_FILE, Checkpoint.INDEX_FILE, Checkpoint.TORCH_FILE,
            Checkpoint.TORCH_INDEX_FILE);

    private final Options options;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<FileCheck> checks = new ArrayList<>();
    private final List<Path> inputs = new ArrayList<>();
    private final List<String> findings = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Output> outputs = new ArrayList<>();
    /** Recipes by parameter name, as the source gives them. */
    private final Map<String, Scaled> byName = new LinkedHashMap<>();
    /** Shapes of the source's tensors by name (for sources keyed by names, without a model). */
    private final Map<String, long[]> sourceShapes = new LinkedHashMap<>();
    private final TreeSet<Double> steps = new TreeSet<>();
    private final TreeSet<Double> betas = new TreeSet<>();
    private final List<String> zeros = new ArrayList<>();

    private Kind kind;
    private Path folder;
    private String sourceFile;
    private Checkpoint model;
    private Path modelPath;
    private JsonFields config;
    private TrainingRun run;
    private String modelLine;
    /** Names tied to an earlier name in the pickled order that named the ids (shared bytes). */
    private final Map<String, String> orderTies = new HashMap<>();

    private FisherSource(Options options) {
        this.options = options;
    }

    /**
     * Finds the source, names its tensors after the model and checks everything that can be checked
     * before writing: names, shapes, groups, the parameters without state.
     *
     * @throws UgmException of kind USAGE when an option is missing or contradicts the source,
     *                      INVALID_INPUT when the source is malformed or does not fit the model, IO when
     *                      a file cannot be read
     */
    public static FisherSource open(Options options) {
        FisherSource s = new FisherSource(options);
        try {
            s.read();
            return s;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** What the Fisher is made of. */
    public Kind kind() {
        return kind;
    }

    /** The tensors to write, in the model's order, with the output dtype. */
    public List<Output> outputs() {
        return List.copyOf(outputs);
    }

    /** The {@code __metadata__} to write ({@link FisherMetadata}). */
    public Map<String, String> metadata() {
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** What was found, one line each, for the user. */
    public List<String> findings() {
        return List.copyOf(findings);
    }

    /** Warnings (things the user should know that did not stop the run). */
    public List<String> warnings() {
        return List.copyOf(notes);
    }

    /** Every file and folder read, for the check that the output lies apart from them. */
    public List<Path> inputs() {
        return List.copyOf(inputs);
    }

    /** The example count recorded, or null. */
    public Long examples() {
        return run == null ? null : run.count();
    }

    /**
     * Computes every output into {@code sink} with up to {@code threads} workers.
     *
     * @return bytes written and the nonzero values the output dtype rounded to zero
     * @throws UgmException of kind INVALID_INPUT at the first negative, NaN or infinite value (naming
     *                      the file and the parameter), IO when an input changed underneath
     */
    public Written write(TensorSink sink, int threads, LongConsumer progress) {
        return FisherWriter.write(outputs, sink, threads, progress);
    }

    /**
     * Every input file is still the one opened.
     *
     * @throws UgmException of kind IO, {@code input changed during fisher: FILE}
     */
    public void requireUnchanged() {
        for (FileCheck c : checks) {
            if (c.changed().getAsBoolean()) {
                throw new UgmException(UgmException.Kind.IO, "input changed during fisher: " + c.path());
            }
        }
        if (model != null) {
            model.requireUnchanged("fisher");
        }
    }

    @Override
    public void close() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // closing mappings does not fail in practice; the first error of the run matters
            }
        }
        open.clear();
    }

    // ---- reading ---------------------------------------------------------------------------------

    private void read() {
        Path cp = options.checkpoint();
        if (!Files.exists(cp)) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, "checkpoint not found: " + cp);
        }
        Path optimizerFile = null;
        Path zero = null;
        Path expFile = null;
        if (Files.isRegularFile(cp)) {
            folder = cp.toAbsolutePath().getParent();
            if (cp.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
                expFile = cp;
            } else {
                optimizerFile = cp;
            }
        } else {
            folder = cp;
            if (Files.isDirectory(cp.resolve("zero"))) {
                zero = cp.resolve("zero");
            } else if (cp.getFileName() != null && cp.getFileName().toString().equals("zero")
                    && Files.isRegularFile(cp.resolve("optimizer_state.pt"))) {
                zero = cp;
                folder = cp.toAbsolutePath().getParent();
            } else if (Files.isRegularFile(cp.resolve("optimizer.pt"))) {
                optimizerFile = cp.resolve("optimizer.pt");
            } else if (Files.isRegularFile(cp.resolve("optimizer.bin"))) {
                optimizerFile = cp.resolve("optimizer.bin");
            } else if (Files.isRegularFile(cp.resolve("exp_avg_sq.safetensors"))) {
                expFile = cp.resolve("exp_avg_sq.safetensors");
            } else {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, cp + ": no optimizer state found: none of optimizer.pt,"
                        + " optimizer.bin, zero/ (a DeepSpeed universal checkpoint), exp_avg_sq.safetensors");
            }
        }
        openModel(zero != null);
        if (optimizerFile != null) {
            readOptimizer(optimizerFile);
        } else if (zero != null) {
            readUniversal(zero);
        } else {
            readExpAvgSq(expFile);
        }
        if (run == null) {
            List<Path> where = new ArrayList<>(List.of(folder));
            if (zero != null && folder.getParent() != null) {
                where.add(folder.getParent());
            }
            run = TrainingRun.of(where, options.examples(), options.batch(), notes);
        }
        assemble();
    }

    /** The model: --model, else the checkpoint folder (or, for a universal checkpoint, the folder holding it). */
    private void openModel(boolean universal) {
        if (options.model() != null) {
            if (!Files.exists(options.model())) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, "model not found: " + options.model());
            }
            modelPath = options.model();
        } else {
            List<Path> where = new ArrayList<>(List.of(folder));
            if (universal && folder.toAbsolutePath().getParent() != null) {
                where.add(folder.toAbsolutePath().getParent());
            }
            for (Path w : where) {
                if (MODEL_FILES.stream().anyMatch(f -> Files.isRegularFile(w.resolve(f)))) {
                    modelPath = w;
                    break;
                }
            }
        }
        if (modelPath == null) {
            return;
        }
        model = Checkpoint.open(modelPath);
        open.add(model);
        inputs.add(model.path());
        inputs.addAll(model.files());
        Path configFile = Files.isDirectory(modelPath) ? modelPath.resolve("config.json") : null;
        if (configFile == null || !Files.isRegularFile(configFile)) {
            configFile = folder.resolve("config.json");
        }
        if (Files.isRegularFile(configFile)) {
            config = JsonFields.read(configFile);
        }
        String files = String.join(", ", model.files().stream().map(p -> p.getFileName().toString()).toList());
        String type = config == null || config.string("model_type") == null ? "" : ", model_type " + config.string("model_type");
        modelLine = "model: " + modelPath + " (" + files + type + "): " + floating().size() + " floating tensors";
    }

    private TorchFile openTorch(Path p) {
        TorchFile f = TorchFile.open(p);
        open.add(f);
        inputs.add(p);
        checks.add(new FileCheck(p.toString(), f::changedOnDisk));
        return f;
    }

    private FileCheck checkOf(Path p) {
        for (FileCheck c : checks) {
            if (c.path().equals(p.toString())) {
                return c;
            }
        }
        throw new IllegalStateException(p.toString());
    }

    // ---- optimizer.pt ------------------------------------------------------------------------------

    private void readOptimizer(Path file) {
        sourceFile = file.toString();
        TorchFile tf = openTorch(file);
        OptimizerState st = OptimizerState.of(tf);
        FileCheck check = checkOf(file);
        if (st.ivon) {
            kind = Kind.IVON;
            readIvon(st, check);
            return;
        }
        kind = Kind.ADAM;
        if (st.state.isEmpty()) {
            throw Values.invalid(sourceFile, null, "the optimizer holds no per-parameter state: it never took a step");
        }
        findings.add("source: " + kind.description + " in " + file + ", " + st.groups.size() + " param group(s), "
                + st.state.size() + " parameters with state, keyed by " + (st.byName ? "names" : "integer ids"));
        Map<Object, String> names = new LinkedHashMap<>();
        if (st.byName) {
            st.groups.forEach(g -> g.params().forEach(k -> names.put(k, (String) k)));
        } else {
            requireModel("its state is keyed by integer ids");
            ParamOrder.Fit fit = (id, p) -> {
                TensorValue t = st.expAvgSq(id, p.name());
                return t == null || Arrays.equals(t.shape(), p.shape()) ? null
                        : "the exp_avg_sq of " + id + " has shape " + Values.shape(t.shape());
            };
            nameIds(st, fit).forEach(names::put);
        }
        for (Map.Entry<Object, String> e : names.entrySet()) {
            TensorValue t = st.expAvgSq(e.getKey(), e.getValue());
            if (t == null) {
                continue; // no state: found missing below
            }
            OptimizerState.Group g = st.groupOf(e.getKey());
            double factor = biasCorrection(st.step(e.getKey()), g.beta2(), sourceFile, e.getValue());
            add(e.getValue(), t, factor, check);
        }
    }

    private void readIvon(OptimizerState st, FileCheck check) {
        findings.add("source: " + kind.description + " in " + sourceFile + ", " + st.groups.size() + " param group(s)");
        List<TensorValue> hess = new ArrayList<>();
        for (OptimizerState.Group g : st.groups) {
            if (!(g.settings().get("hess") instanceof TensorValue h) || h.shape().length != 1 || !h.dtype().isMergeable()) {
                throw Values.invalid(sourceFile, null, "param group " + g.index() + " has no 1-D floating tensor 'hess'");
            }
            double numel = g.number("numel");
            if (!Double.isNaN(numel) && numel != h.shape()[0]) {
                throw Values.invalid(sourceFile, null, "param group " + g.index() + ": its hess holds " + h.shape()[0]
                        + " values, its numel says " + Values.format(numel));
            }
            hess.add(h);
        }
        Map<Object, String> names = new HashMap<>();
        if (st.byName) {
            st.groups.forEach(g -> g.params().forEach(k -> names.put(k, (String) k)));
        } else {
            requireModel("its state is keyed by integer ids");
            ParamOrder.Fit fit = new ParamOrder.Fit() {
                @Override
                public String param(long id, Param p) {
                    return null; // the flat hess holds no shapes; the group's element count is the check
                }

                @Override
                public String group(int g, List<Param> params) {
                    long n = params.stream().mapToLong(Param::elements).sum();
                    return n == hess.get(g).shape()[0] ? null
                            : "its hess holds " + hess.get(g).shape()[0] + " values, these parameters " + n;
                }
            };
            nameIds(st, fit).forEach(names::put);
        }
        Set<String> ess = new LinkedHashSet<>();
        for (OptimizerState.Group g : st.groups) {
            TensorValue h = hess.get(g.index());
            int width = h.dtype().byteWidth();
            long offset = 0;
            for (Object key : g.params()) {
                String name = names.get(key);
                long[] shape = shapeOf(name, key);
                long n = DType.elementCount(shape);
                if (offset + n > h.shape()[0]) {
                    throw Values.invalid(sourceFile, name, "past the end of group " + g.index() + "'s hess (" + h.shape()[0] + " values)");
                }
                Scaled s = new Scaled(h.data().asSlice(offset * width, n * width), h.dtype(), 1.0, check, name);
                byName.put(name, s);
                sourceShapes.put(name, shape);
                offset += n;
            }
            if (offset != h.shape()[0]) {
                throw Values.invalid(sourceFile, null, "param group " + g.index() + ": its hess holds " + h.shape()[0]
                        + " values, its parameters " + offset);
            }
            ess.add(Values.format(g.number("ess")));
            double b2 = g.beta2();
            if (!Double.isNaN(b2)) {
                betas.add(b2);
            }
        }
        metadata.put(FisherMetadata.ESS, String.join(", ", ess));
        findings.add("ess (effective sample size): " + String.join(", ", ess) + "; Fisher = hess, as stored"
                + " (IVON's posterior precision is ess x (hess + weight_decay))");
        if (options.examples() == null && ess.size() == 1) {
            double e = st.groups.getFirst().number("ess");
            if (Double.isFinite(e) && e >= 1) {
                run = new TrainingRun(Math.round(e), "IVON's ess in " + sourceFile, options.batch());
            }
        }
    }

    /** The shape of a parameter named by the source: the model's, else the state tensor's. */
    private long[] shapeOf(String name, Object key) {
        TensorInfo i = model == null ? null : model.info(name);
        if (i == null) {
            throw Values.invalid(sourceFile, name, "the optimizer has state for it (" + key + "), but the model "
                    + (model == null ? "is unknown: give --model DIR" : modelPath + " has no such tensor"));
        }
        return i.shape();
    }

    private void requireModel(String why) {
        if (model == null) {
            throw Values.usage(sourceFile + ": " + why + ", so the model's weights are needed for the names and shapes, and "
                    + folder + " has none of " + String.join(", ", MODEL_FILES) + ": give --model DIR");
        }
    }

    /** Names the optimizer's integer ids: from --param-order, the model's pickled order, or its family's order. */
    private Map<Long, String> nameIds(OptimizerState st, ParamOrder.Fit fit) {
        String modelType = config == null ? null : config.string("model_type");
        Family family = Family.of(modelType);
        List<String> order;
        String how;
        if (options.paramOrder() != null) {
            order = givenOrder(options.paramOrder());
            how = "the order in " + options.paramOrder();
        } else if (model.format().contains(Checkpoint.PYTORCH)) {
            order = pickledOrder(model.shards());
            how = "the order of the state dict pickled in " + String.join(", ",
                    model.files().stream().map(p -> p.getFileName().toString()).toList());
        } else if (family != null) {
            List<String> names = new ArrayList<>(parameters().stream().map(Param::name).toList());
            try {
                names.forEach(family::requireKnown);
                names.sort(family::compare);
            } catch (Family.Unknown u) {
                throw Values.invalid(sourceFile, null, "its state is keyed by ids, and the model has '" + u.component + "' (in "
                        + u.name + "), which ugm's order of " + family.models + " models does not know, so the order cannot be"
                        + " rebuilt; " + ORDER_HINT);
            }
            order = names;
            how = "rebuilt for " + modelType + " (config.json) from the tensor names";
        } else {
            throw Values.invalid(sourceFile, null, "its state is keyed by ids, and the parameter order of model_type "
                    + (modelType == null ? "(none: no config.json with model_type)" : "'" + modelType + "'")
                    + " is not one ugm rebuilds (" + Family.known() + "); " + ORDER_HINT);
        }
        Map<String, long[]> shapes = new HashMap<>();
        floating().forEach(t -> shapes.put(t.name(), t.shape()));
        List<Param> params = new ArrayList<>();
        for (String n : order) {
            long[] s = shapes.get(n);
            if (s != null && !Family.isBuffer(n, s.length)) {
                params.add(new Param(n, s));
            }
        }
        Set<String> tied = new HashSet<>(orderTies.keySet());
        tied.addAll(familyTies(family).keySet());
        try {
            ParamOrder.Named named = ParamOrder.name(params, family, tied, st.groupIds(), fit);
            findings.add("parameter order: " + how + "; " + named.grouping() + "; "
                    + (st.ivon ? "each group's hess has its parameters' element count" : "every state tensor has its parameter's shape"));
            return named.byId();
        } catch (ParamOrder.NoFit e) {
            throw Values.invalid(sourceFile, null, "its state is keyed by ids, and " + how + " does not fit it: " + e.getMessage()
                    + " (frozen parameters? another model?); " + ORDER_HINT);
        }
    }

    private static final String ORDER_HINT = "give the order with --param-order FILE (the trainable parameters' names, one per"
            + " line, in model.named_parameters() order) or --param-order pytorch_model.bin (a state dict saved from the model)";

    /** Output embeddings tied to input embeddings, for the family or (unknown family) any family's. */
    private static Map<String, String> tiedPairs(Family family) {
        if (family != null) {
            return family.tied;
        }
        Map<String, String> all = new HashMap<>();
        for (Family f : Family.values()) {
            all.putAll(f.tied);
        }
        return all;
    }

    /** A --param-order file: a torch.save state dict (its pickled order), or names one per line. */
    private List<String> givenOrder(Path file) {
        if (!Files.isRegularFile(file)) {
            throw Values.usage("--param-order " + file + ": no such file");
        }
        String lower = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (lower.endsWith(".bin") || lower.endsWith(".pt") || lower.endsWith(".pth") || startsLikeZip(file)) {
            TorchStateDict sd = TorchStateDict.open(file);
            open.add(sd);
            inputs.add(file);
            List<String> order = pickledOrder(List.of(sd));
            for (String n : order) {
                if (model.info(n) == null && !Family.isBuffer(n, 0)) {
                    throw Values.invalid(file.toString(), n, "in the order given, but not in the model " + modelPath);
                }
            }
            return order;
        }
        List<String> lines;
        try {
            if (Files.size(file) > JsonFields.MAX_BYTES) {
                throw Values.invalid(file.toString(), null, "too large for a list of parameter names");
            }
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw Values.invalid(file.toString(), null, "not valid UTF-8");
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, file + ": cannot read: " + e.getMessage(), e);
        }
        inputs.add(file);
        List<String> order = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String n = lines.get(i).strip();
            if (n.isEmpty() || n.startsWith("#")) {
                continue;
            }
            if (!seen.add(n)) {
                throw Values.invalid(file.toString(), n, "listed twice (line " + (i + 1) + ")");
            }
            TensorInfo t = model.info(n);
            if (t == null) {
                throw Values.invalid(file.toString(), n, "line " + (i + 1) + " names a parameter the model " + modelPath + " lacks");
            }
            if (!t.dtype().isMergeable()) {
                throw Values.invalid(file.toString(), n, "line " + (i + 1) + " names a " + t.dtype() + " tensor, not a parameter");
            }
            order.add(n);
        }
        return order;
    }

    private static boolean startsLikeZip(Path file) {
        try (var in = Files.newInputStream(file)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The names of torch.save state dicts in their pickled order (a module's state_dict() order,
     * which is named_parameters() order with the buffers among them); a name whose bytes are those
     * of an earlier name is tied to it ({@link #orderTies}).
     */
    private List<String> pickledOrder(List<CheckpointFile> files) {
        List<String> order = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (CheckpointFile f : files) {
            if (!(f instanceof TorchStateDict sd) || !(sd.file().root() instanceof DictValue root)) {
                continue;
            }
            for (TorchValue k : root.entries().keySet()) {
                if (k instanceof StrValue(String name)) {
                    order.add(name);
                    for (String other : sd.sharing(name)) {
                        if (seen.contains(other)) {
                            orderTies.put(name, other);
                            break;
                        }
                    }
                    seen.add(name);
                }
            }
        }
        return order;
    }

    // ---- DeepSpeed universal ------------------------------------------------------------------------

    private void readUniversal(Path zero) {
        kind = Kind.DEEPSPEED_UNIVERSAL;
        sourceFile = zero.toString();
        inputs.add(zero);
        TreeMap<String, Path> params = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(zero)) {
            for (Path p : ds) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && Files.isRegularFile(p.resolve("exp_avg_sq.pt"))) {
                    params.put(p.getFileName().toString(), p);
                }
            }
        } catch (IOException e) {
            throw new UgmException(UgmException.Kind.IO, zero + ": cannot list: " + e.getMessage(), e);
        }
        if (params.isEmpty()) {
            throw Values.invalid(zero.toString(), null, "holds no <parameter>/exp_avg_sq.pt: not a DeepSpeed universal checkpoint's zero/");
        }
        findings.add("source: " + kind.description + " in " + zero + ", " + params.size() + " parameters");
        double beta2 = Double.NaN;
        String betaProblem = null;
        if (options.beta2() == null && !options.noBiasCorrection()) {
            Path common = zero.resolve("optimizer_state.pt");
            try {
                beta2 = universalBeta2(common);
            } catch (UgmException e) {
                if (e.kind() == UgmException.Kind.IO && Files.exists(common)) {
                    throw e;
                }
                betaProblem = e.getMessage();
            }
        }
        for (Map.Entry<String, Path> p : params.entrySet()) {
            String name = p.getKey();
            Path file = p.getValue().resolve("exp_avg_sq.pt");
            TorchFile tf = openTorch(file);
            TorchValue root = tf.root();
            TensorValue t = root instanceof TensorValue direct ? direct
                    : root instanceof DictValue d && d.get("param") instanceof TensorValue inner ? inner : null;
            if (t == null) {
                throw Values.invalid(file.toString(), name, "holds a " + root.typeName() + ", not {'param': tensor}");
            }
            double step = Double.NaN;
            Path stepFile = p.getValue().resolve("step.pt");
            if (Files.isRegularFile(stepFile)) {
                try (TorchFile sf = TorchFile.open(stepFile)) {
                    step = Values.number(sf.root());
                    if (Double.isNaN(step)) {
                        throw Values.invalid(stepFile.toString(), name, "holds a " + sf.root().typeName() + ", not a step number");
                    }
                }
            }
            if (Double.isNaN(beta2) && options.beta2() == null && !options.noBiasCorrection()) {
                throw Values.usage(zero.resolve("optimizer_state.pt") + " gives no beta2 for the bias correction ("
                        + (betaProblem == null ? "no param_groups with betas" : betaProblem) + "): give --beta2 B"
                        + (Double.isNaN(step) ? " and --step N" : "") + ", or --no-bias-correction");
            }
            if (model != null && model.info(name) != null && !Arrays.equals(model.info(name).shape(), t.shape())) {
                throw Values.invalid(file.toString(), name, "exp_avg_sq has shape " + Values.shape(t.shape()) + ", the model's parameter "
                        + Values.shape(model.info(name).shape()));
            }
            add(name, t, biasCorrection(step, beta2, file.toString(), name), checkOf(file));
        }
    }

    /** β2 of a universal checkpoint's optimizer_state.pt (read and closed), when its groups agree. */
    private double universalBeta2(Path common) {
        if (!Files.isRegularFile(common)) {
            throw Values.invalid(common.toString(), null, "no such file");
        }
        try (TorchFile f = TorchFile.open(common)) {
            if (!(f.root() instanceof DictValue root) || !(root.get("param_groups") instanceof ListValue groups)) {
                throw Values.invalid(common.toString(), null, "has no param_groups");
            }
            Set<Double> found = new TreeSet<>();
            for (TorchValue g : groups.items()) {
                if (g instanceof DictValue d) {
                    double b = new OptimizerState.Group(0, List.of(), d).beta2();
                    if (!Double.isNaN(b)) {
                        found.add(b);
                    }
                }
            }
            if (found.size() > 1) {
                throw Values.usage(common + ": its param groups have different betas " + found
                        + " and the universal checkpoint does not say which group a parameter is in: give --beta2 B");
            }
            if (found.isEmpty()) {
                throw Values.invalid(common.toString(), null, "no param group has betas");
            }
            return found.iterator().next();
        }
    }

    // ---- exp_avg_sq.safetensors ---------------------------------------------------------------------

    private void readExpAvgSq(Path file) {
        kind = Kind.EXP_AVG_SQ;
        sourceFile = file.toString();
        Checkpoint ck = Checkpoint.open(file);
        open.add(ck);
        inputs.add(file);
        checks.add(new FileCheck(file.toString(), () -> ck.shards().stream().anyMatch(CheckpointFile::changedOnDisk)));
        findings.add("source: " + kind.description + " in " + file + ", " + ck.tensors().size() + " tensors");
        for (TensorInfo t : ck.tensors()) {
            if (!t.dtype().isMergeable()) {
                throw Values.invalid(sourceFile, t.name(), "is " + t.dtype() + ", not a floating tensor");
            }
            if (model != null && model.info(t.name()) != null && !Arrays.equals(model.info(t.name()).shape(), t.shape())) {
                throw Values.invalid(sourceFile, t.name(), "exp_avg_sq has shape " + t.shapeString() + ", the model's parameter "
                        + Values.shape(model.info(t.name()).shape()));
            }
            double factor = biasCorrection(Double.NaN, Double.NaN, sourceFile, t.name());
            Scaled s = new Scaled(ck.data(t.name()), t.dtype(), factor, checks.getLast(), t.name());
            byName.put(t.name(), s);
            sourceShapes.put(t.name(), t.shape());
        }
    }

    // ---- common ------------------------------------------------------------------------------------

    private void add(String name, TensorValue t, double factor, FileCheck check) {
        if (!t.dtype().isMergeable()) {
            throw Values.invalid(check.path(), name, "its exp_avg_sq is " + t.dtype() + ", not a floating tensor");
        }
        byName.put(name, new Scaled(t.data(), t.dtype(), factor, check, name));
        sourceShapes.put(name, t.shape());
    }

    /**
     * Adam's bias correction {@code 1 / (1 - beta2^step)} in double, from the values the source
     * records, else the options; 1 with --no-bias-correction.
     */
    private double biasCorrection(double recordedStep, double recordedBeta2, String file, String name) {
        if (options.noBiasCorrection()) {
            return 1.0;
        }
        double step = pick(recordedStep, options.step() == null ? null : options.step().doubleValue(), "--step", "step", file, name);
        double beta2 = pick(recordedBeta2, options.beta2(), "--beta2", "beta2", file, name);
        if (Double.isNaN(step) || Double.isNaN(beta2)) {
            throw Values.usage(Values.message(file, name, "records no " + (Double.isNaN(step) ? "step" : "beta2")
                    + " for the bias correction exp_avg_sq / (1 - beta2^step): give --step N and --beta2 B, or --no-bias-correction"));
        }
        if (!(step >= 1) || step != Math.rint(step) || step > 1e15) {
            throw Values.invalid(file, name, "its step is " + step + ", not a whole number >= 1");
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw Values.invalid(file, name, "its beta2 is " + beta2 + ", outside [0, 1)");
        }
        steps.add(step);
        betas.add(beta2);
        double denominator = 1.0 - Math.pow(beta2, step);
        return 1.0 / denominator;
    }

    private static double pick(double recorded, Double given, String option, String what, String file, String name) {
        if (Double.isNaN(recorded)) {
            return given == null ? Double.NaN : given;
        }
        if (given != null && given != recorded) {
            throw Values.usage(Values.message(file, name, "records " + what + " " + Values.format(recorded) + ", but " + option
                    + " says " + Values.format(given) + "; drop " + option + " (it is for sources that record no " + what + ")"));
        }
        return recorded;
    }

    /** The model's floating tensors, in its order. */
    private List<TensorInfo> floating() {
        return model.tensors().stream().filter(t -> t.dtype().isMergeable()).toList();
    }

    /** The model's parameters (floating tensors that are not buffers), in the file's order. */
    private List<Param> parameters() {
        return floating().stream().filter(t -> !Family.isBuffer(t.name(), t.shape().length))
                .map(t -> new Param(t.name(), t.shape())).toList();
    }

    /** The outputs: the model's floating tensors (or the source's, without a model), each with its recipe. */
    private void assemble() {
        DType dtype = options.dtype() == null ? DType.F32 : options.dtype();
        if (modelLine != null) {
            findings.add(Math.min(1, findings.size()), modelLine);
        }
        if (model == null) {
            findings.add("model: none found (no --model, no weights in " + folder + "): names and shapes are the source's,"
                    + " and parameters without state cannot be told");
            byName.forEach((n, s) -> outputs.add(new Output(new TensorInfo(n, dtype, sourceShapes.get(n)), s)));
        } else {
            for (String n : byName.keySet()) {
                if (model.info(n) == null) {
                    throw Values.invalid(byName.get(n).file().path(), n, "has optimizer state, but the model " + modelPath
                            + " has no such tensor");
                }
            }
            Map<String, String> tiedTo = tiedInModel();
            List<String> tied = new ArrayList<>();
            List<String> buffers = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            for (TensorInfo t : floating()) {
                String n = t.name();
                Recipe r = byName.get(n);
                if (r != null && !Arrays.equals(sourceShapes.get(n), t.shape())) {
                    throw Values.invalid(byName.get(n).file().path(), n, "its state has shape " + Values.shape(sourceShapes.get(n))
                            + ", the model's parameter " + t.shapeString());
                }
                if (r == null && tiedTo.containsKey(n) && byName.containsKey(tiedTo.get(n))) {
                    r = byName.get(tiedTo.get(n));
                    tied.add(n + " = " + tiedTo.get(n));
                }
                if (r == null && Family.isBuffer(n, t.shape().length)) {
                    r = new Zeros("buffer");
                    buffers.add(n);
                }
                if (r == null) {
                    r = new Zeros("no optimizer state");
                    missing.add(n);
                }
                outputs.add(new Output(new TensorInfo(n, dtype, t.shape()), r));
            }
            if (!missing.isEmpty() && !options.allowMissing()) {
                throw Values.invalid(sourceFile, missing.getFirst(), "has no optimizer state"
                        + (missing.size() > 1 ? " (nor " + (missing.size() - 1) + " more: " + list(missing.subList(1, missing.size())) + ")" : "")
                        + ": frozen, or it never had a gradient; --allow-missing writes zeros for such parameters");
            }
            if (!tied.isEmpty()) {
                findings.add("tied (one parameter, its Fisher under both names): " + String.join(", ", tied));
            }
            if (!buffers.isEmpty()) {
                findings.add("buffers (not trained), zeros: " + list(buffers));
            }
            if (!missing.isEmpty()) {
                findings.add("without optimizer state, written as zeros (--allow-missing): " + missing.size() + ": " + list(missing));
                zeros.addAll(missing);
            }
        }
        findings.add("parameters with a Fisher from the source: " + byName.size());
        metadata.put("format", "pt");
        metadata.put(FisherMetadata.SOURCE, kind.id);
        metadata.put(FisherMetadata.FROM, Path.of(sourceFile).toAbsolutePath().normalize().toString());
        if (kind != Kind.IVON) {
            if (options.noBiasCorrection()) {
                metadata.put(FisherMetadata.FORMULA, "exp_avg_sq");
                findings.add("Fisher = exp_avg_sq as stored (--no-bias-correction)");
            } else {
                String step = range(steps);
                String beta = String.join(", ", betas.stream().map(Values::format).toList());
                metadata.put(FisherMetadata.STEP, step);
                metadata.put(FisherMetadata.BETA2, beta);
                metadata.put(FisherMetadata.FORMULA, "exp_avg_sq / (1 - beta2^step)");
                String factor = steps.size() == 1 && betas.size() == 1
                        ? String.format(Locale.ROOT, " = exp_avg_sq x %.6g", 1 / (1 - Math.pow(betas.first(), steps.first()))) : "";
                findings.add("step " + step + ", beta2 " + beta + ": Fisher = exp_avg_sq / (1 - beta2^step)" + factor
                        + " (bias-corrected; estimates the squared mini-batch gradient)");
            }
        } else {
            metadata.put(FisherMetadata.FORMULA, "hess");
            if (!betas.isEmpty()) {
                metadata.put(FisherMetadata.BETA2, String.join(", ", betas.stream().map(Values::format).toList()));
            }
        }
        if (run != null) {
            metadata.put(FisherMetadata.EXAMPLES, Long.toString(run.count()));
            metadata.put(FisherMetadata.EXAMPLES_FROM, run.from());
            if (run.batch() != null) {
                metadata.put(FisherMetadata.BATCH, Long.toString(run.batch()));
            }
            findings.add("examples: " + run.count() + " (" + run.from() + "); merge takes it as this Fisher's default fisher_scale");
            if (kind != Kind.IVON && run.batch() != null) {
                findings.add("scale: exp_avg_sq is a mini-batch statistic; the per-example reading is fisher_scale = examples x batch = "
                        + Values.format((double) run.count() * run.batch()) + " (see the README)");
            }
        } else {
            findings.add("examples: unknown (no trainer_state.json, no --examples); merge's fisher_scale defaults to 1");
        }
        if (!zeros.isEmpty()) {
            metadata.put(FisherMetadata.ZEROS, zeros.size() + ": " + list(zeros));
        }
    }

    /** Tensors of the model that are another's parameter: shared bytes in a torch.save file, or a family's tied pair. */
    private Map<String, String> tiedInModel() {
        Map<String, String> out = new HashMap<>();
        for (CheckpointFile f : model.shards()) {
            if (f instanceof TorchStateDict sd) {
                for (List<String> group : sd.sharedGroups()) {
                    String owner = group.stream().filter(byName::containsKey).findFirst().orElse(null);
                    if (owner != null) {
                        group.stream().filter(n -> !n.equals(owner)).forEach(n -> out.putIfAbsent(n, owner));
                    }
                }
            }
        }
        orderTies.forEach((name, to) -> {
            if (model.info(name) != null && model.info(to) != null && model.info(name).sameShape(model.info(to))) {
                out.putIfAbsent(name, to);
            }
        });
        familyTies(Family.of(config == null ? null : config.string("model_type"))).forEach(out::putIfAbsent);
        return out;
    }

    /**
     * The family's tied pairs (output embedding to input embedding) that this model shows tied:
     * both present with equal bytes (a tied pair is one tensor, saved twice by older versions),
     * and config.json not saying tie_word_embeddings false. An untied head that merely has no
     * state never takes the embedding's Fisher.
     */
    private Map<String, String> familyTies(Family family) {
        Map<String, String> out = new HashMap<>();
        if (config != null && Boolean.FALSE.equals(config.flag("tie_word_embeddings"))) {
            return out;
        }
        tiedPairs(family).forEach((name, to) -> {
            TensorInfo a = model.info(name);
            TensorInfo b = model.info(to);
            if (a != null && b != null && a.dtype() == b.dtype() && a.sameShape(b) && model.data(name).mismatch(model.data(to)) == -1) {
                out.put(name, to);
            }
        });
        return out;
    }

    private static String range(TreeSet<Double> values) {
        if (values.isEmpty()) {
            return "";
        }
        return values.size() == 1 ? Values.format(values.first()) : Values.format(values.first()) + ".." + Values.format(values.last());
    }

    /** The first names of a list, then how many more. */
    static String list(List<String> names) {
        int shown = Math.min(names.size(), 5);
        String s = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? s + ", ... (" + (names.size() - shown) + " more)" : s;
    }
}
