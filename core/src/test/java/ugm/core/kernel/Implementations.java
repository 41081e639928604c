package ugm.core.kernel;

import java.util.ArrayList;
import java.util.List;

/** The implementations the tests run: the scalar twin and every vector width this CPU supports. */
final class Implementations {
    private Implementations() {
    }

    static final int[] WIDTHS = {64, 128, 256, 512};

    static List<Kernels> vectors() {
        List<Kernels> list = new ArrayList<>();
        for (int bits : WIDTHS) {
            if (bits <= VectorKernels.preferredBits()) {
                list.add(new Kernels(VectorKernels.of(bits)));
            }
        }
        return list;
    }

    static List<Kernels> all() {
        List<Kernels> list = new ArrayList<>();
        list.add(Kernels.scalar());
        list.addAll(vectors());
        return list;
    }
}
