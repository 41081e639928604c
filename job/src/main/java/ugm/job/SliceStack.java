package ugm.job;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.job.config.LayerPosition;
import ugm.job.config.MergeConfig;

/**
 * The output's layers as mergekit's {@code slices:} stack them: slice k adds its sources' layers
 * in order, output layers renumbered from 0. Tensors outside the layers follow mergekit's planner:
 * the embeddings (names with {@code embed}, {@code wte} or {@code wpe}), which come before the
 * layers, from the first slice's sources; the others (final norm, head) from the last slice's.
 */
final class SliceStack {
    private final List<MergeConfig.Slice> slices;
    /** The first output layer of each slice. */
    private final int[] offsets;
    private final int layers;

    SliceStack(List<MergeConfig.Slice> slices) {
        this.slices = List.copyOf(slices);
        this.offsets = new int[slices.size()];
        int at = 0;
        for (int k = 0; k < slices.size(); k++) {
            offsets[k] = at;
            at += slices.get(k).layers();
        }
        this.layers = at;
    }

    /** The output's layer count. */
    int layers() {
        return layers;
    }

    /** For each output layer, the layer of the first source of its slice it comes from (to reslice per-layer config lists). */
    int[] firstSourceLayers() {
        int[] from = new int[layers];
        for (int k = 0; k < slices.size(); k++) {
            for (int j = 0; j < slices.get(k).layers(); j++) {
                from[offsets[k] + j] = slices.get(k).sources().get(0).from() + j;
            }
        }
        return from;
    }

    /** The slice an output tensor comes from: by its layer; the embeddings from the first, other tensors from the last. */
    int sliceOf(String tensor) {
        OptionalInt layer = LayerPosition.layerIndex(tensor);
        if (layer.isEmpty()) {
            return isEmbedding(tensor) ? 0 : slices.size() - 1;
        }
        int k = slices.size() - 1;
        while (k > 0 && offsets[k] > layer.getAsInt()) {
            k--;
        }
        return k;
    }

    /** mergekit's layer position within the tensor's slice: i / (n − 1), 1 for a slice of one layer; 0 outside the layers. */
    double t(String tensor) {
        OptionalInt layer = LayerPosition.layerIndex(tensor);
        if (layer.isEmpty()) {
            return 0;
        }
        int k = sliceOf(tensor);
        int n = slices.get(k).layers();
        return n > 1 ? (double) (layer.getAsInt() - offsets[k]) / (n - 1) : 1;
    }

    /** The name output tensor {@code tensor} has in {@code source}, a source of its slice (k). */
    String sourceName(String tensor, int k, MergeConfig.Source source) {
        OptionalInt layer = LayerPosition.layerIndex(tensor);
        return layer.isEmpty() ? tensor : LayerPosition.inLayer(tensor, source.from() + layer.getAsInt() - offsets[k]);
    }

    static boolean isEmbedding(String tensor) {
        String n = tensor.toLowerCase(Locale.ROOT);
        return n.contains("embed") || n.matches("(?:.*\\.)?(?:wte|wpe)\\.weight");
    }

    /**
     * The output's tensors as one model of the merge reads them: slice k's layers from
     * {@code sources.get(k)} (its layers {@code from(k)} on, renamed into the output's numbering),
     * the embeddings from the first, the other tensors from the last. A single slice of every
     * layer of its source is the source itself, tensors in its order.
     *
     * @param sources one per slice
     * @param from    each source's first layer
     */
    TensorSource view(List<TensorSource> sources, int[] from, int[] sourceLayers) {
        if (slices.size() == 1 && from[0] == 0 && layers == sourceLayers[0]) {
            return sources.get(0);
        }
        Map<String, Stacked.Entry> entries = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        TensorSource first = sources.get(0);
        TensorSource last = sources.get(sources.size() - 1);
        for (TensorInfo t : first.tensors()) {
            if (LayerPosition.layerIndex(t.name()).isEmpty() && isEmbedding(t.name())) {
                entries.put(t.name(), new Stacked.Entry(first, t.name()));
                infos.add(t);
            }
        }
        for (int k = 0; k < slices.size(); k++) {
            Map<Integer, List<TensorInfo>> byLayer = new LinkedHashMap<>();
            for (TensorInfo t : sources.get(k).tensors()) {
                OptionalInt l = LayerPosition.layerIndex(t.name());
                if (l.isPresent()) {
                    byLayer.computeIfAbsent(l.getAsInt(), x -> new ArrayList<>()).add(t);
                }
            }
            for (int j = 0; j < slices.get(k).layers(); j++) {
                for (TensorInfo t : byLayer.getOrDefault(from[k] + j, List.of())) {
                    String name = LayerPosition.inLayer(t.name(), offsets[k] + j);
                    entries.put(name, new Stacked.Entry(sources.get(k), t.name()));
                    infos.add(new TensorInfo(name, t.dtype(), t.shape()));
                }
            }
        }
        for (TensorInfo t : last.tensors()) {
            if (LayerPosition.layerIndex(t.name()).isEmpty() && !isEmbedding(t.name())) {
                entries.put(t.name(), new Stacked.Entry(last, t.name()));
                infos.add(t);
            }
        }
        return new Stacked(entries, List.copyOf(infos));
    }

    /** A renaming view: each output tensor is a tensor of one of the sources, maybe under another name. */
    private static final class Stacked implements TensorSource {
        record Entry(TensorSource source, String name) {
        }

        private final Map<String, Entry> entries;
        private final List<TensorInfo> tensors;
        private final Map<String, TensorInfo> infos = new LinkedHashMap<>();

        Stacked(Map<String, Entry> entries, List<TensorInfo> tensors) {
            this.entries = entries;
            this.tensors = tensors;
            tensors.forEach(t -> infos.put(t.name(), t));
        }

        @Override
        public String describe() {
            return "layers of " + String.join(", ", entries.values().stream().map(e -> e.source().describe()).distinct().toList());
        }

        @Override
        public List<TensorInfo> tensors() {
            return tensors;
        }

        @Override
        public TensorInfo info(String name) {
            return infos.get(name);
        }

        @Override
        public MemorySegment data(String name) {
            Entry e = entries.get(name);
            return e.source().data(e.name());
        }

        @Override
        public void release(String name) {
            Entry e = entries.get(name);
            if (e != null) {
                e.source().release(e.name());
            }
        }

        @Override
        public String locate(String name) {
            Entry e = entries.get(name);
            if (e == null) {
                return describe();
            }
            return e.source().locate(e.name()) + (e.name().equals(name) ? "" : " (its " + e.name() + ")");
        }

        @Override
        public String changedFile(String name) {
            Entry e = entries.get(name);
            return e == null ? null : e.source().changedFile(e.name());
        }
    }
}
