package ugm.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.job.config.MergeConfig;

/** The stacked view of slices, on GPT-2's and BERT's layer naming: names renumbered, bytes those of the source layer. */
class SliceStackTest {

    /** A model whose tensor i of {@code names} holds the one float {@code base + i}. */
    private static MemoryTensors model(String tag, int base, List<String> names) {
        MemoryTensors m = new MemoryTensors(tag);
        for (int i = 0; i < names.size(); i++) {
            MemorySegment s = MemorySegment.ofArray(new float[] {base + i});
            m.add(names.get(i), DType.F32, new long[] {1}, s);
        }
        return m;
    }

    private static float value(TensorSource s, String name) {
        return s.data(name).get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
    }

    private static MergeConfig.Slice slice(int from, int to) {
        return new MergeConfig.Slice(List.of(new MergeConfig.Source(Path.of("m"), from, to, Map.of())), null, Map.of());
    }

    @Test
    void gpt2LayersAreRenumberedAndTheFinalNormComesFromTheLastSlice() {
        List<String> names = List.of("transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
                "transformer.h.1.attn.c_attn.weight", "transformer.h.2.attn.c_attn.weight", "transformer.ln_f.weight");
        MemoryTensors a = model("a", 1000, names);
        MemoryTensors b = model("b", 2000, names);
        SliceStack stack = new SliceStack(List.of(slice(1, 3), slice(0, 1)));
        TensorSource v = stack.view(List.of(a, b), new int[] {1, 0}, new int[] {3, 3});
        assertEquals(List.of("transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
                "transformer.h.1.attn.c_attn.weight", "transformer.h.2.attn.c_attn.weight", "transformer.ln_f.weight"),
                v.tensors().stream().map(TensorInfo::name).toList());
        assertEquals(1000, value(v, "transformer.wte.weight"));
        assertEquals(1001, value(v, "transformer.wpe.weight"));
        assertEquals(1003, value(v, "transformer.h.0.attn.c_attn.weight")); // a's layer 1
        assertEquals(1004, value(v, "transformer.h.1.attn.c_attn.weight")); // a's layer 2
        assertEquals(2002, value(v, "transformer.h.2.attn.c_attn.weight")); // b's layer 0
        assertEquals(2005, value(v, "transformer.ln_f.weight"));
        assertEquals(3, stack.layers());
        assertEquals(0.0, stack.t("transformer.h.0.attn.c_attn.weight"));
        assertEquals(1.0, stack.t("transformer.h.1.attn.c_attn.weight"));
        assertEquals(1.0, stack.t("transformer.h.2.attn.c_attn.weight"), "a slice of one layer is at t = 1, as in mergekit");
        assertEquals(0.0, stack.t("transformer.ln_f.weight"));
        assertEquals(1, stack.sliceOf("transformer.ln_f.weight"));
        assertEquals(0, stack.sliceOf("transformer.wte.weight"));
    }

    @Test
    void bertLayersStackAndOneWholeSliceIsTheSourceItself() {
        List<String> names = List.of("bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.output.dense.weight",
                "bert.encoder.layer.1.output.dense.weight", "bert.pooler.dense.weight");
        MemoryTensors a = model("a", 1000, names);
        TensorSource twice = new SliceStack(List.of(slice(0, 2), slice(0, 2))).view(List.of(a, a), new int[] {0, 0}, new int[] {2, 2});
        assertEquals(6, twice.tensors().size());
        assertEquals(1001, value(twice, "bert.encoder.layer.2.output.dense.weight"));
        assertEquals(1002, value(twice, "bert.encoder.layer.3.output.dense.weight"));
        assertEquals(1003, value(twice, "bert.pooler.dense.weight"));
        assertSame(a, new SliceStack(List.of(slice(0, 2))).view(List.of(a), new int[] {0}, new int[] {2}));
    }
}
