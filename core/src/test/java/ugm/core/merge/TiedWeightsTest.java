package ugm.core.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;

class TiedWeightsTest {
    private static MemorySegment bytes(int n) {
        return Arena.ofAuto().allocate(n);
    }

    @Test
    void aHeadIsWrittenWhenSomeInputHasOne() {
        MemoryTensors tied = new MemoryTensors("tied").add("model.embed_tokens.weight", DType.BF16, new long[] {3, 2}, bytes(12));
        MemoryTensors untied = new MemoryTensors("untied").add("model.embed_tokens.weight", DType.F32, new long[] {3, 2}, bytes(24))
                .add("lm_head.weight", DType.F32, new long[] {3, 2}, bytes(24));
        assertEquals(Set.of(), TiedWeights.written(List.of(tied)));
        Set<String> written = TiedWeights.written(List.of(tied, untied));
        assertEquals(Set.of("lm_head.weight"), written);
        assertEquals(Map.of(), TiedWeights.ties(untied, written));
        assertSame(untied, TiedWeights.view(untied, Map.of()));

        Map<String, String> ties = TiedWeights.ties(tied, written);
        assertEquals(Map.of("lm_head.weight", "model.embed_tokens.weight"), ties);
        TensorSource v = TiedWeights.view(tied, ties);
        assertEquals(new TensorInfo("lm_head.weight", DType.BF16, new long[] {3, 2}), v.info("lm_head.weight"));
        assertEquals(List.of("model.embed_tokens.weight", "lm_head.weight"), v.tensors().stream().map(TensorInfo::name).toList());
        MemorySegment embed = tied.data("model.embed_tokens.weight");
        MemorySegment head = v.data("lm_head.weight");
        assertEquals(embed.address(), head.address());
        assertEquals(embed.byteSize(), head.byteSize());
        assertEquals("tied (its model.embed_tokens.weight, tied)", v.locate("lm_head.weight"));
        assertEquals("tied", v.locate("model.embed_tokens.weight"));
        assertNull(v.info("other"));
    }

    @Test
    void otherArchitecturesNames() {
        MemoryTensors gpt2 = new MemoryTensors("gpt2").add("wte.weight", DType.F32, new long[] {2}, bytes(8));
        MemoryTensors internlm = new MemoryTensors("internlm2").add("model.tok_embeddings.weight", DType.F32, new long[] {2}, bytes(8));
        MemoryTensors none = new MemoryTensors("none").add("model.norm.weight", DType.F32, new long[] {2}, bytes(8));
        Set<String> written = Set.of("lm_head.weight", "output.weight");
        assertEquals(Map.of("lm_head.weight", "wte.weight"), TiedWeights.ties(gpt2, written));
        assertEquals(Map.of("output.weight", "model.tok_embeddings.weight"), TiedWeights.ties(internlm, written));
        assertEquals(Map.of(), TiedWeights.ties(none, written)); // nothing to stand for the head: the plan reports it missing
    }
}
