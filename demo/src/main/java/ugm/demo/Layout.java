package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import ugm.core.DType;
import ugm.core.TensorInfo;

/** How a flat parameter vector splits into named F32 tensors, in order. */
record Layout(List<Tensor> tensors) {

    record Tensor(String name, long... shape) {
        Tensor {
            shape = shape.clone();
        }

        int elements() {
            return Math.toIntExact(DType.elementCount(shape));
        }

        TensorInfo info() {
            return new TensorInfo(name, DType.F32, shape);
        }
    }

    Layout(Tensor... tensors) {
        this(List.of(tensors));
    }

    int size() {
        int n = 0;
        for (Tensor t : tensors) {
            n += t.elements();
        }
        return n;
    }

    List<TensorInfo> infos() {
        List<TensorInfo> l = new ArrayList<>();
        for (Tensor t : tensors) {
            l.add(t.info());
        }
        return l;
    }
}
